package download

import "hash"

// hasher hashes buffers on its own goroutine, so that hashing one buffer
// overlaps with reading the next from the network and writing it to disk.
// The buffers cycle between the copy loop and the hasher: get hands out a
// buffer the hasher has finished with; hash gives one back to be hashed.
type hasher struct {
	h     hash.Hash
	work  chan []byte
	free  chan []byte
	done  chan struct{}
	spare [][]byte // drain's scratch space, len(bufs)
}

func startHasher(h hash.Hash, bufs [][]byte) *hasher {
	hs := &hasher{
		h:     h,
		work:  make(chan []byte, len(bufs)),
		free:  make(chan []byte, len(bufs)),
		done:  make(chan struct{}),
		spare: make([][]byte, len(bufs)),
	}
	for _, b := range bufs {
		hs.free <- b
	}
	go func() {
		defer close(hs.done)
		for b := range hs.work {
			h.Write(b)
			hs.free <- b[:cap(b)]
		}
	}()
	return hs
}

// get returns a full-capacity buffer that is not being hashed.
func (hs *hasher) get() []byte { return <-hs.free }

// put returns an unused buffer.
func (hs *hasher) put(b []byte) { hs.free <- b[:cap(b)] }

// hash queues b to be hashed; b belongs to the hasher until get returns it.
func (hs *hasher) hash(b []byte) { hs.work <- b }

// drain waits until every queued buffer is hashed. The caller must hold no
// buffer.
func (hs *hasher) drain() {
	for i := range hs.spare {
		hs.spare[i] = <-hs.free
	}
	for _, b := range hs.spare {
		hs.free <- b
	}
}

// stop waits for the queued buffers to be hashed and ends the goroutine.
func (hs *hasher) stop() {
	close(hs.work)
	<-hs.done
}

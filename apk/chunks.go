package apk

import (
	"encoding/binary"
	"fmt"
)

// Binary resource chunks (AndroidManifest.xml and resources.arsc) are
// checked here before apkparser, and apkverifier through it, read them:
// apkparser trusts the sizes a chunk declares and allocates them up front,
// so a few crafted bytes could make it allocate gigabytes. Android itself
// refuses chunks that overrun their parent and strings that overrun their
// pool, so nothing it installs is refused here.

// Chunk types of frameworks/base/libs/androidfw/include/androidfw/ResourceTypes.h.
const (
	chunkStringPool = 0x0001
	chunkTable      = 0x0002
	chunkXML        = 0x0003
	chunkPackage    = 0x0200
	chunkHeaderSize = 8
	poolHeaderSize  = 28
	// packageHeaderMin covers the package fields apkparser reads: id,
	// name, typeStrings, lastPublicType, keyStrings, lastPublicKey.
	packageHeaderMin = chunkHeaderSize + 4 + 256 + 4*4
)

// chunk returns the type, header size and bytes of the chunk at the start
// of b, checking that its declared size fits in b.
func chunk(b []byte, what string) (typ uint16, hdr int, c []byte, err error) {
	if len(b) < chunkHeaderSize {
		return 0, 0, nil, fmt.Errorf("%s: a chunk header needs %d bytes, %d are left", what, chunkHeaderSize, len(b))
	}
	typ = binary.LittleEndian.Uint16(b)
	hdr = int(binary.LittleEndian.Uint16(b[2:]))
	size := int64(binary.LittleEndian.Uint32(b[4:]))
	switch {
	case hdr < chunkHeaderSize || int64(hdr) > size:
		return 0, 0, nil, fmt.Errorf("%s: chunk 0x%04x has header size %d for a chunk of %d bytes", what, typ, hdr, size)
	case size > int64(len(b)):
		return 0, 0, nil, fmt.Errorf("%s: chunk 0x%04x declares %d bytes but only %d are left", what, typ, size, len(b))
	}
	return typ, hdr, b[:size], nil
}

// checkXML checks a compiled XML file (AndroidManifest.xml).
func checkXML(b []byte) error {
	typ, hdr, top, err := chunk(b, manifestFile)
	if err != nil {
		return err
	}
	if typ != chunkXML {
		return fmt.Errorf("%s starts with chunk type 0x%04x, not compiled XML (0x%04x)", manifestFile, typ, chunkXML)
	}
	return eachChild(top, hdr, manifestFile, func(typ uint16, c []byte) error {
		if typ == chunkStringPool {
			return checkPool(c, manifestFile)
		}
		return nil
	})
}

// checkTable checks a compiled resource table (resources.arsc).
func checkTable(b []byte) error {
	const what = "resources.arsc"
	typ, hdr, top, err := chunk(b, what)
	if err != nil {
		return err
	}
	if typ != chunkTable || hdr < chunkHeaderSize+4 {
		return fmt.Errorf("%s starts with chunk type 0x%04x and header size %d, not a resource table", what, typ, hdr)
	}
	return eachChild(top, hdr, what, func(typ uint16, c []byte) error {
		switch typ {
		case chunkStringPool:
			return checkPool(c, what)
		case chunkPackage:
			return checkPackage(c)
		}
		return nil
	})
}

// checkPackage checks a resource table package: its type and key string
// pools, which sit at offsets its header names.
func checkPackage(c []byte) error {
	const what = "resources.arsc package"
	if len(c) < packageHeaderMin {
		return fmt.Errorf("%s: %d bytes cannot hold a package header", what, len(c))
	}
	for _, off := range []uint32{
		binary.LittleEndian.Uint32(c[chunkHeaderSize+4+256:]),   // typeStrings
		binary.LittleEndian.Uint32(c[chunkHeaderSize+4+256+8:]), // keyStrings
	} {
		if off < chunkHeaderSize || int64(off) >= int64(len(c)) {
			return fmt.Errorf("%s: string pool offset %d is outside the %d-byte package", what, off, len(c))
		}
		typ, _, pool, err := chunk(c[off:], what)
		if err != nil {
			return err
		}
		if typ != chunkStringPool {
			return fmt.Errorf("%s: chunk 0x%04x at offset %d is not a string pool", what, typ, off)
		}
		if err := checkPool(pool, what); err != nil {
			return err
		}
	}
	return nil
}

// eachChild calls fn for each chunk in parent after its header. Fewer than
// a chunk header's bytes at the end are junk Android ignores.
func eachChild(parent []byte, hdr int, what string, fn func(typ uint16, c []byte) error) error {
	rest := parent[hdr:]
	for len(rest) >= chunkHeaderSize {
		typ, _, c, err := chunk(rest, what)
		if err != nil {
			return err
		}
		if err := fn(typ, c); err != nil {
			return err
		}
		rest = rest[len(c):]
	}
	return nil
}

// checkPool checks that a string pool's strings fit inside it, reading the
// pool the way apkparser does.
func checkPool(c []byte, what string) error {
	if len(c) < poolHeaderSize {
		return fmt.Errorf("%s: a %d-byte string pool cannot hold its header", what, len(c))
	}
	count := int64(binary.LittleEndian.Uint32(c[8:]))
	utf8 := binary.LittleEndian.Uint32(c[16:])&(1<<8) != 0
	start := int64(binary.LittleEndian.Uint32(c[20:]))
	if start > int64(len(c)) {
		return fmt.Errorf("%s: string data starts at %d, past the %d-byte pool", what, start, len(c))
	}
	// apkparser reads as many offsets as fit before the string data.
	count = min(count, max(0, (start-poolHeaderSize)/4))
	data := c[start:]
	for i := range count {
		off := int64(binary.LittleEndian.Uint32(c[poolHeaderSize+4*i:]))
		if off >= int64(len(data)) {
			continue // apkparser refuses to read it
		}
		if utf8 {
			continue // UTF-8 lengths are at most 32767 bytes
		}
		s := data[off:]
		if len(s) < 2 {
			return fmt.Errorf("%s: string %d has no length", what, i)
		}
		n, need := int64(binary.LittleEndian.Uint16(s)), int64(2)
		if n&0x8000 != 0 {
			if len(s) < 4 {
				return fmt.Errorf("%s: string %d has a truncated length", what, i)
			}
			n, need = (n&0x7fff)<<16|int64(binary.LittleEndian.Uint16(s[2:])), 4
		}
		if need+2*n > int64(len(s)) {
			return fmt.Errorf("%s: string %d claims %d UTF-16 units but the pool has %d bytes left", what, i, n, int64(len(s))-need)
		}
	}
	return nil
}

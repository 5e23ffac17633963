package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// chunk is one document's text and the file line it starts on.
type chunk struct {
	data []byte
	line int // 1-based line of data's first line in the file
}

// split cuts a file into documents at lines that are exactly "---" (white
// space after the dashes and a CR line end are tolerated).
func split(data []byte) []chunk {
	var out []chunk
	start, startLine, line := 0, 1, 1
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data) + 1
		if end >= 0 {
			end += i
			next = end + 1
		} else {
			end = len(data)
		}
		if string(bytes.TrimRight(data[i:end], " \t\r")) == "---" {
			out = append(out, chunk{data: data[start:i], line: startLine})
			start, startLine = min(next, len(data)), line+1
		}
		i = next
		line++
	}
	return append(out, chunk{data: data[start:], line: startLine})
}

// parsed is one chunk read by the YAML parser: a document node, or the
// parser's error, or neither for an empty document.
type parsed struct {
	node *yaml.Node
	err  error
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+):`)

// parseChunk reads one document's node tree. Error line numbers are made
// relative to the file.
func parseChunk(c chunk) (p parsed) {
	defer func() {
		// The YAML parser must not take the process down on hostile input.
		if r := recover(); r != nil {
			p = parsed{err: fmt.Errorf("yaml: the parser failed on this document: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(c.data))
	var n yaml.Node
	err := dec.Decode(&n)
	switch {
	case errors.Is(err, io.EOF):
		return parsed{}
	case err != nil:
		return parsed{err: fileLine(err, c.line)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return parsed{err: fileLine(err, c.line)}
		}
		return parsed{err: fmt.Errorf("yaml: line %d: a second document starts here; put --- on a line of its own between documents", extra.Line+c.line-1)}
	}
	if len(n.Content) == 1 && n.Content[0].Kind == yaml.ScalarNode && n.Content[0].ShortTag() == tagNull {
		return parsed{} // a document holding only null is empty
	}
	return parsed{node: &n}
}

// fileLine rewrites "yaml: line N:" to count from the file's first line.
func fileLine(err error, first int) error {
	msg := err.Error()
	m := yamlLine.FindStringSubmatchIndex(msg)
	if m == nil {
		return err
	}
	n, convErr := strconv.Atoi(msg[m[2]:m[3]])
	if convErr != nil {
		return err
	}
	return errors.New(msg[:m[2]] + strconv.Itoa(n+first-1) + msg[m[3]:])
}

package engine

import "fmt"

// MaxJSONDepth bounds how deeply a JSON document that starts a run may
// nest: a --input, an API or webhook body, a provider event. Real payloads
// nest a handful of levels; a deeper one is refused before it is decoded,
// so that no decoder, template or condition recurses on it.
const MaxJSONDepth = 100

// JSONDepthError reports a JSON document nested deeper than MaxJSONDepth.
type JSONDepthError struct {
	// Offset is the byte offset of the bracket that went too deep.
	Offset int
}

func (e *JSONDepthError) Error() string {
	return fmt.Sprintf("JSON nested deeper than %d levels (at byte %d)", MaxJSONDepth, e.Offset+1)
}

// CheckJSONDepth returns a *JSONDepthError when data, read as JSON, opens
// more than MaxJSONDepth arrays and objects inside each other. It scans the
// bytes without decoding them, in constant memory; data need not be valid
// JSON.
func CheckJSONDepth(data []byte) error {
	depth := 0
	inString := false
	for i := 0; i < len(data); i++ {
		b := data[i]
		if inString {
			switch b {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > MaxJSONDepth {
				return &JSONDepthError{Offset: i}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

package sdk

import "github.com/heraldhq/herald/internal/jsondec"

// maxDirectDepth bounds the nesting decodeDirect follows: past it
// encoding/json's decoder takes the whole text and reports what it
// reports of deep nesting.
const maxDirectDepth = 32

// decodeDirect decodes raw, a JSON object, into what decodeObject's
// json.Decoder (with UseNumber) gives for it, through jsondec: one pass,
// without the decoder's own allocations and its second pass over the text.
// It reports false, having decided nothing, for any text jsondec does not
// take and for any value that is not an object; decodeObject then takes
// the decoder, so results and errors stay encoding/json's.
func decodeDirect(raw []byte) (map[string]any, bool) {
	v, ok := jsondec.Decode(raw, jsondec.JSONNumbers, maxDirectDepth)
	m, isObject := v.(map[string]any)
	return m, ok && isObject
}

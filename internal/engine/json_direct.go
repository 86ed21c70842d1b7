package engine

import "github.com/heraldhq/herald/internal/jsondec"

// DecodeJSONDirect decodes data, one JSON text, into what DecodeJSON gives
// for it (integers as int64, other numbers as float64), without
// encoding/json's reflection and its separate passes to validate the text
// and check its depth. It reports false, having decided nothing, for any
// text it does not take: an escape, a control character or invalid UTF-8
// in a string, a number a float64 cannot hold, nesting deeper than
// MaxJSONDepth, anything that is not one well-formed JSON value (trailing
// text included), or blank text. Callers then take DecodeJSON's path, so
// results and errors for those texts stay encoding/json's. The strings of
// the value it returns share one copy of data.
func DecodeJSONDirect(data []byte) (any, bool) {
	return jsondec.Decode(data, jsondec.Plain, MaxJSONDepth)
}

package docgen

// Anchor exposes anchor to the tests of package docgen_test.
var Anchor = anchor

package store_test

import (
	"fmt"

	"github.com/heraldhq/herald/internal/store"
)

func ExampleParseDSN() {
	dsn, err := store.ParseDSN(store.DefaultDSN("workflows"))
	if err != nil {
		panic(err)
	}
	fmt.Println(dsn.Driver, dsn.Path)
	// Output: sqlite workflows/.herald/herald.db
}

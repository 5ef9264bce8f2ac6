package tls

import "github.com/tapview/tapview/decode"

// extraInner lists inner parsers beyond HTTP/1 that exist in this tree.
func extraInner() []decode.Parser { return nil }

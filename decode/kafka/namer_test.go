package kafka

import (
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestNamer: ids are named only after a response named them, in the
// target and in bodies ("id:" form, at word boundaries), unknown ids and
// look-alikes stay, and the body the decoder holds is not written to.
func TestNamer(t *testing.T) {
	a, b := [16]byte{1, 2, 3}, [16]byte{9, 9, 9}
	ida, idb := idString(a), idString(b)
	fetch := func() *decode.Exchange {
		return &decode.Exchange{Proto: Name, Query: &decode.QueryInfo{},
			Request: &decode.Message{Target: ida + "," + idb + ",plain",
				Body: []byte("fetch id:" + ida + " partition 0\ntopic id:" + idb + ": 1\nxid:" + ida + " id:" + ida + "z\n")}}
	}
	n := NewNamer()
	e := fetch()
	n.Name(e)
	if e.Request.Target != ida+","+idb+",plain" {
		t.Errorf("named before any response: %q", e.Request.Target)
	}
	n.Name(&decode.Exchange{Proto: Name, Query: &decode.QueryInfo{TopicIDs: []decode.TopicID{{ID: a, Name: "orders"}}}})
	n.Name(&decode.Exchange{Proto: "redis", Query: &decode.QueryInfo{TopicIDs: []decode.TopicID{{ID: b, Name: "nope"}}}})
	e = fetch()
	held := e.Request.Body
	orig := string(held)
	n.Name(e)
	if e.Request.Target != "orders,"+idb+",plain" {
		t.Errorf("target %q", e.Request.Target)
	}
	want := "fetch orders partition 0\ntopic id:" + idb + ": 1\nxid:" + ida + " id:" + ida + "z\n"
	if string(e.Request.Body) != want {
		t.Errorf("body %q, want %q", e.Request.Body, want)
	}
	if string(held) != orig {
		t.Error("the decoder's body bytes were written to")
	}
	single := &decode.Exchange{Proto: Name, Query: &decode.QueryInfo{}, Request: &decode.Message{Target: ida}}
	if n.Name(single); single.Request.Target != "orders" {
		t.Errorf("single target %q", single.Request.Target)
	}
}

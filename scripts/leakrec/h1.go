package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// HTTP/1.1: values split across segments and chunks.

func runH1() error {
	ln, err := listen(portH1)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fl := w.(http.Flusher)
		cut := len(h1ChunkJWT) - 30 // inside the signature
		io.WriteString(w, `{"user":"bob","access_token":"`+h1ChunkJWT[:cut])
		fl.Flush()
		pause()
		io.WriteString(w, h1ChunkJWT[cut:]+`","ok":true}`)
	})
	mux.HandleFunc("/session", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: h1SetCookie, Path: "/", HttpOnly: true})
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, `{"client_id":"web","client_secret":"`+h1Gzip+`"}`)
		zw.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(b.Bytes())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := dial(portH1)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	host := fmt.Sprintf("Host: 127.0.0.1:%d\r\n", portH1)
	// A query parameter, a bearer token and a cookie, each split.
	if err := pieces(c,
		"GET /profile?api_key="+h1Query[:8],
		h1Query[8:]+"&lang=en HTTP/1.1\r\n"+host+"Authorization: Bearer "+h1Bearer[:11],
		h1Bearer[11:]+"\r\nCookie: theme=dark; session="+h1Cookie[:5],
		h1Cookie[5:]+"\r\nAccept: */*\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "GET"); err != nil {
		return err
	}
	// A chunked request body with the password split across chunks; the
	// response is chunked with a JWT split across chunks.
	c1 := `{"user":"bob","password":"` + h1ChunkPw[:6]
	c2 := h1ChunkPw[6:] + `"}`
	if err := pieces(c,
		"POST /login HTTP/1.1\r\n"+host+"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
		fmt.Sprintf("%x\r\n%s\r\n", len(c1), c1),
		fmt.Sprintf("%x\r\n%s\r\n", len(c2), c2),
		"0\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "POST"); err != nil {
		return err
	}
	// A form body split inside the password.
	form := "user=bob&password=" + h1Form + "&remember=1"
	cut := strings.Index(form, h1Form) + 5
	if err := pieces(c,
		"POST /form HTTP/1.1\r\n"+host+"Content-Type: application/x-www-form-urlencoded\r\n"+fmt.Sprintf("Content-Length: %d\r\n\r\n", len(form))+form[:cut],
		form[cut:]); err != nil {
		return err
	}
	if err := readResponse(br, "POST"); err != nil {
		return err
	}
	if err := pieces(c, "GET /session HTTP/1.1\r\n"+host+"\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "GET"); err != nil {
		return err
	}
	if err := pieces(c, "GET /gzip HTTP/1.1\r\n"+host+"Accept-Encoding: gzip\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "GET"); err != nil {
		return err
	}

	// The far split: the first half of the key, then hundreds of
	// packets of another connection, then the second half.
	far, err := dial(portH1)
	if err != nil {
		return err
	}
	defer far.Close()
	if err := pieces(far, "GET /far HTTP/1.1\r\n"+host+"X-Api-Key: "+h1Far[:9]); err != nil {
		return err
	}
	busy, err := dial(portH1)
	if err != nil {
		return err
	}
	const n = 200
	io.WriteString(busy, "POST /upload HTTP/1.1\r\n"+host+fmt.Sprintf("Content-Length: %d\r\n\r\n", n))
	for i := 0; i < n; i++ {
		busy.Write([]byte{'a' + byte(i%26)})
		time.Sleep(2 * time.Millisecond)
	}
	if err := readResponse(bufio.NewReader(busy), "POST"); err != nil {
		return err
	}
	busy.Close()
	if err := pieces(far, h1Far[9:]+"\r\nX-Trace: 1\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(bufio.NewReader(far), "GET"); err != nil {
		return err
	}
	pause()
	return nil
}

func readResponse(br *bufio.Reader, method string) error {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// ---- HTTP/2 ----

// hpackBlock builds header blocks by hand, so each field's representation
// (indexed, literal, Huffman or raw) is chosen, not left to an encoder.

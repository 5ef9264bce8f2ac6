package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS TXT answers over UDP and TCP.

func txtAnswer(q []byte, txt ...string) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, err
	}
	question, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	b.TXTResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60},
		dnsmessage.TXTResource{TXT: txt})
	return b.Finish()
}

func txtQuery(name string, id uint16) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET})
	return b.Finish()
}

// runDNSTCP asks for a TXT record over TCP; the answer (2-byte length
// prefix and message) is written in two pieces split inside the token.
func runDNSTCP() error {
	ln, err := listen(portDNSTCP)
	if err != nil {
		return err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.(*net.TCPConn).SetNoDelay(true)
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			done <- err
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			done <- err
			return
		}
		ans, err := txtAnswer(q, "v=leak1", "api_token=ghp_"+dnsTCPTXT)
		if err != nil {
			done <- err
			return
		}
		msg := binary.BigEndian.AppendUint16(nil, uint16(len(ans)))
		msg = append(msg, ans...)
		cut := bytes.Index(msg, []byte(dnsTCPTXT)) + 15
		done <- pieces(c, string(msg[:cut]), string(msg[cut:]))
	}()
	c, err := dial(portDNSTCP)
	if err != nil {
		return err
	}
	defer c.Close()
	q, err := txtQuery("secrets.leak.test.", 0x5443)
	if err != nil {
		return err
	}
	if err := pieces(c, string(binary.BigEndian.AppendUint16(nil, uint16(len(q))))+string(q)); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint16(n[:]))); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	pause()
	return nil
}

func runDNS() error {
	pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", portDNS))
	if err != nil {
		return err
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			return
		}
		q, err := p.Question()
		if err != nil {
			return
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		b.TXTResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.TXTResource{TXT: []string{"v=leak1", "deploy_token=ghp_" + dnsTXT}})
		out, err := b.Finish()
		if err == nil {
			pc.WriteTo(out, addr)
		}
	}()
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", portDNS))
	if err != nil {
		return err
	}
	defer c.Close()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4c4b, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("config.leak.test."), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET})
	q, err := b.Finish()
	if err != nil {
		return err
	}
	if _, err := c.Write(q); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	_, err = c.Read(buf)
	return err
}

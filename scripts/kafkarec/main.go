// Command kafkarec drives a real Kafka broker implementation (franz-go's
// kfake, on 127.0.0.1) with a real client, for scripts/record-kafka.sh,
// and writes the truth the decoder tests compare against as JSON lines:
//
//   - {"kind":"broker",...}: every request the broker handled (api key,
//     version, topics by name, records produced), from kfake's control
//     hook, which sees each request as the broker parsed it;
//   - {"kind":"write"|"read",...}: every request the kgo client wrote and
//     every response it read (api key, bytes including the size prefix),
//     from kgo's broker hooks (-client kgo only);
//   - {"kind":"produced"|"consumed",...}: records the client produced and
//     consumed, by topic;
//   - {"kind":"topic",...}: each topic's id, to name topics a request
//     gave by id;
//   - {"kind":"secret",...}: the passwords planted for SASL (the kgo
//     producer authenticates with PLAIN, the consumer with SCRAM-SHA-256).
//
// -client kgo runs the franz-go client in process; -client kcat runs
// /usr/bin/kcat (librdkafka) against the same broker.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Planted SASL credentials: the export test checks they do not survive
// masking.
const (
	plainUser = "alice"
	plainPass = "kafka-plain-secret-7Qx"
	scramUser = "bob"
	scramPass = "kafka-scram-secret-9Zw"
)

// truth writes JSON lines, safe for the broker and client goroutines.
type truth struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (t *truth) put(v map[string]any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enc.Encode(v); err != nil {
		log.Fatalf("write truth: %v", err)
	}
}

func main() {
	port := flag.Int("port", 19092, "broker port on 127.0.0.1")
	client := flag.String("client", "kgo", "kgo or kcat")
	out := flag.String("truth", "truth.jsonl", "truth file (JSON lines)")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	tr := &truth{enc: json.NewEncoder(f)}

	topics := []string{"orders", "payments", "audit"}
	opts := []kfake.Opt{kfake.Ports(*port), kfake.SeedTopics(2, topics...)}
	if *client == "kgo" {
		// kcat (librdkafka) will not authenticate with kfake: it wants
		// SaslHandshake v0 in the ApiVersions ranges, and kfake serves
		// v1 only; its capture goes without SASL.
		opts = append(opts, kfake.EnableSASL(),
			kfake.Superuser("PLAIN", plainUser, plainPass),
			kfake.Superuser("SCRAM-SHA-256", scramUser, scramPass))
		tr.put(map[string]any{"kind": "secret", "mechanism": "PLAIN", "user": plainUser, "password": plainPass})
		tr.put(map[string]any{"kind": "secret", "mechanism": "SCRAM-SHA-256", "user": scramUser, "password": scramPass})
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		log.Fatalf("start kfake: %v", err)
	}
	defer c.Close()
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		tr.put(brokerRecord(req))
		return nil, nil, false
	})

	addr := fmt.Sprintf("127.0.0.1:%d", *port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch *client {
	case "kgo":
		err = runKgo(ctx, addr, tr, c)
	case "kcat":
		err = runKcat(ctx, addr, tr)
	default:
		err = fmt.Errorf("unknown -client %q", *client)
	}
	if err != nil {
		log.Fatalf("%s workload: %v", *client, err)
	}
	for _, t := range append(topics, "events") {
		if ti := c.TopicInfo(t); ti != nil {
			tr.put(map[string]any{"kind": "topic", "name": t, "id": base64.RawURLEncoding.EncodeToString(ti.TopicID[:])})
		}
	}
}

// brokerRecord is what the broker saw of one request.
func brokerRecord(req kmsg.Request) map[string]any {
	rec := map[string]any{"kind": "broker", "key": req.Key(), "api": kmsg.NameForKey(req.Key()), "version": req.GetVersion()}
	var names []string
	var ids []string
	add := func(name string, id [16]byte) {
		if name != "" {
			names = append(names, name)
		} else {
			ids = append(ids, base64.RawURLEncoding.EncodeToString(id[:]))
		}
	}
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		records, batches := 0, 0
		for _, t := range r.Topics {
			add(t.Topic, t.TopicID)
			for _, p := range t.Partitions {
				b := p.Records
				for len(b) >= 12 {
					var rb kmsg.RecordBatch
					if err := rb.ReadFrom(b); err != nil {
						break
					}
					records += int(rb.NumRecords)
					batches++
					b = b[12+int(rb.Length):]
				}
			}
		}
		rec["records"], rec["batches"], rec["acks"] = records, batches, r.Acks
	case *kmsg.FetchRequest:
		for _, t := range r.Topics {
			add(t.Topic, t.TopicID)
		}
	case *kmsg.MetadataRequest:
		for _, t := range r.Topics {
			n := ""
			if t.Topic != nil {
				n = *t.Topic
			}
			add(n, t.TopicID)
		}
	case *kmsg.ListOffsetsRequest:
		for _, t := range r.Topics {
			add(t.Topic, [16]byte{})
		}
	case *kmsg.OffsetCommitRequest:
		for _, t := range r.Topics {
			add(t.Topic, t.TopicID)
		}
		rec["group"] = r.Group
	case *kmsg.OffsetFetchRequest:
		for _, t := range r.Topics {
			add(t.Topic, [16]byte{})
		}
		for _, g := range r.Groups {
			for _, t := range g.Topics {
				add(t.Topic, t.TopicID)
			}
		}
	case *kmsg.CreateTopicsRequest:
		for _, t := range r.Topics {
			add(t.Topic, [16]byte{})
		}
	case *kmsg.SASLHandshakeRequest:
		rec["mechanism"] = r.Mechanism
	}
	if len(names) > 0 {
		rec["topics"] = names
	}
	if len(ids) > 0 {
		rec["topic_ids"] = ids
	}
	return rec
}

package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// hooks records every request kgo wrote and every response it read.
type hooks struct{ tr *truth }

func (h hooks) OnBrokerWrite(meta kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	rec := map[string]any{"kind": "write", "node": meta.NodeID, "key": key, "api": kmsg.NameForKey(key), "bytes": n}
	if err != nil {
		rec["error"] = err.Error()
	}
	h.tr.put(rec)
}

func (h hooks) OnBrokerRead(meta kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	rec := map[string]any{"kind": "read", "node": meta.NodeID, "key": key, "api": kmsg.NameForKey(key), "bytes": n}
	if err != nil {
		rec["error"] = err.Error()
	}
	h.tr.put(rec)
}

// runKgo: an idempotent producer writes to three topics, creates a fourth
// and writes to it, fails to write to a missing topic (auto-create is
// off), lists offsets and metadata; a group consumer reads two topics
// (Fetch by topic id at the versions kfake and kgo agree on), commits
// and leaves.
func runKgo(ctx context.Context, addr string, tr *truth, _ *kfake.Cluster) error {
	auth := kgo.SASL(plain.Auth{User: plainUser, Pass: plainPass}.AsMechanism())
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), auth, kgo.WithHooks(hooks{tr}),
		kgo.ClientID("tapview-producer"), kgo.UnknownTopicRetries(1), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer prod.Close()
	produce := func(topic string, n int) error {
		for i := range n {
			r := &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: []byte(fmt.Sprintf("%s value %d", topic, i))}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				return fmt.Errorf("produce to %s: %w", topic, err)
			}
			tr.put(map[string]any{"kind": "produced", "topic": topic, "partition": r.Partition, "offset": r.Offset})
		}
		return nil
	}
	for _, tn := range []struct {
		topic string
		n     int
	}{{"orders", 5}, {"payments", 3}, {"audit", 2}} {
		if err := produce(tn.topic, tn.n); err != nil {
			return err
		}
	}
	// Several records in one batch: produce asynchronously, then flush.
	for i := range 4 {
		prod.Produce(ctx, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("bulk " + strconv.Itoa(i))}, func(r *kgo.Record, err error) {
			if err == nil {
				tr.put(map[string]any{"kind": "produced", "topic": r.Topic, "partition": r.Partition, "offset": r.Offset})
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return err
	}

	// The error case: a topic that does not exist, auto-create off.
	err = prod.ProduceSync(ctx, &kgo.Record{Topic: "no-such-topic", Value: []byte("lost")}).FirstErr()
	if err == nil {
		return errors.New("producing to a missing topic succeeded")
	}
	tr.put(map[string]any{"kind": "produce_error", "topic": "no-such-topic", "error": err.Error()})

	// CreateTopics, then write to the new topic.
	ct := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = "events", 1, 1
	ct.Topics = append(ct.Topics, t)
	ct.TimeoutMillis = 5000
	if _, err := ct.RequestWith(ctx, prod); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	if err := produce("events", 2); err != nil {
		return err
	}

	// ListOffsets and an explicit Metadata request.
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "orders"
	for p := range int32(2) {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	if _, err := lo.RequestWith(ctx, prod); err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	md := kmsg.NewPtrMetadataRequest()
	for _, name := range []string{"payments", "no-such-topic"} {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		md.Topics = append(md.Topics, mt)
	}
	if _, err := md.RequestWith(ctx, prod); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}

	// A group consumer reads orders and payments from the start.
	scramAuth := kgo.SASL(scram.Auth{User: scramUser, Pass: scramPass}.AsSha256Mechanism())
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), scramAuth, kgo.WithHooks(hooks{tr}),
		kgo.ClientID("tapview-consumer"), kgo.ConsumerGroup("tapview-group"),
		kgo.ConsumeTopics("orders", "payments"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.DisableAutoCommit())
	if err != nil {
		return err
	}
	want, got := 12, 0
	for got < want {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			cons.Close()
			return fmt.Errorf("consumed %d of %d records: %w", got, want, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			tr.put(map[string]any{"kind": "consumed", "topic": r.Topic, "partition": r.Partition, "offset": r.Offset})
		})
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		cons.Close()
		return fmt.Errorf("commit: %w", err)
	}
	cons.Close() // leaves the group
	return nil
}

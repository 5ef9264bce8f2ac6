package kafka

// apiInfo holds facts of one API from the Kafka protocol guide: its name,
// the highest version this decoder knows, and the first flexible version
// (compact strings and arrays, tagged fields, request header v2); -1 when
// no version is flexible.
type apiInfo struct {
	name     string
	maxKnown int16
	flexFrom int16
}

// apis is indexed by api key.
var apis = [...]apiInfo{
	0:  {"Produce", 13, 9},
	1:  {"Fetch", 18, 12},
	2:  {"ListOffsets", 10, 6},
	3:  {"Metadata", 13, 9},
	4:  {"LeaderAndIsr", 7, 4},
	5:  {"StopReplica", 4, 2},
	6:  {"UpdateMetadata", 8, 6},
	7:  {"ControlledShutdown", 3, 3},
	8:  {"OffsetCommit", 10, 8},
	9:  {"OffsetFetch", 10, 6},
	10: {"FindCoordinator", 6, 3},
	11: {"JoinGroup", 9, 6},
	12: {"Heartbeat", 4, 4},
	13: {"LeaveGroup", 5, 4},
	14: {"SyncGroup", 5, 4},
	15: {"DescribeGroups", 6, 5},
	16: {"ListGroups", 5, 3},
	17: {"SaslHandshake", 1, -1},
	18: {"ApiVersions", 5, 3},
	19: {"CreateTopics", 7, 5},
	20: {"DeleteTopics", 6, 4},
	21: {"DeleteRecords", 2, 2},
	22: {"InitProducerId", 6, 2},
	23: {"OffsetForLeaderEpoch", 4, 4},
	24: {"AddPartitionsToTxn", 5, 3},
	25: {"AddOffsetsToTxn", 4, 3},
	26: {"EndTxn", 5, 3},
	27: {"WriteTxnMarkers", 2, 1},
	28: {"TxnOffsetCommit", 6, 3},
	29: {"DescribeAcls", 3, 2},
	30: {"CreateAcls", 3, 2},
	31: {"DeleteAcls", 3, 2},
	32: {"DescribeConfigs", 4, 4},
	33: {"AlterConfigs", 2, 2},
	34: {"AlterReplicaLogDirs", 2, 2},
	35: {"DescribeLogDirs", 5, 2},
	36: {"SaslAuthenticate", 2, 2},
	37: {"CreatePartitions", 3, 2},
	38: {"CreateDelegationToken", 3, 2},
	39: {"RenewDelegationToken", 2, 2},
	40: {"ExpireDelegationToken", 2, 2},
	41: {"DescribeDelegationToken", 3, 2},
	42: {"DeleteGroups", 3, 2},
	43: {"ElectLeaders", 2, 2},
	44: {"IncrementalAlterConfigs", 1, 1},
	45: {"AlterPartitionReassignments", 1, 0},
	46: {"ListPartitionReassignments", 0, 0},
	47: {"OffsetDelete", 0, -1},
	48: {"DescribeClientQuotas", 1, 1},
	49: {"AlterClientQuotas", 1, 1},
	50: {"DescribeUserScramCredentials", 0, 0},
	51: {"AlterUserScramCredentials", 0, 0},
	52: {"Vote", 1, 0},
	53: {"BeginQuorumEpoch", 1, 0},
	54: {"EndQuorumEpoch", 1, 0},
	55: {"DescribeQuorum", 2, 0},
	56: {"AlterPartition", 3, 0},
	57: {"UpdateFeatures", 2, 0},
	58: {"Envelope", 0, 0},
	59: {"FetchSnapshot", 1, 0},
	60: {"DescribeCluster", 2, 0},
	61: {"DescribeProducers", 0, 0},
	62: {"BrokerRegistration", 4, 0},
	63: {"BrokerHeartbeat", 1, 0},
	64: {"UnregisterBroker", 0, 0},
	65: {"DescribeTransactions", 0, 0},
	66: {"ListTransactions", 2, 0},
	67: {"AllocateProducerIds", 0, 0},
	68: {"ConsumerGroupHeartbeat", 1, 0},
	69: {"ConsumerGroupDescribe", 1, 0},
	70: {"ControllerRegistration", 0, 0},
	71: {"GetTelemetrySubscriptions", 0, 0},
	72: {"PushTelemetry", 0, 0},
	73: {"AssignReplicasToDirs", 0, 0},
	74: {"ListConfigResources", 1, 0},
	75: {"DescribeTopicPartitions", 0, 0},
	76: {"ShareGroupHeartbeat", 1, 0},
	77: {"ShareGroupDescribe", 1, 0},
	78: {"ShareFetch", 2, 0},
	79: {"ShareAcknowledge", 2, 0},
	80: {"AddRaftVoter", 0, 0},
	81: {"RemoveRaftVoter", 0, 0},
	82: {"UpdateRaftVoter", 0, 0},
	83: {"InitializeShareGroupState", 0, 0},
	84: {"ReadShareGroupState", 0, 0},
	85: {"WriteShareGroupState", 0, 0},
	86: {"DeleteShareGroupState", 0, 0},
	87: {"ReadShareGroupStateSummary", 0, 0},
	88: {"StreamsGroupHeartbeat", 0, 0},
	89: {"StreamsGroupDescribe", 0, 0},
	90: {"DescribeShareGroupOffsets", 0, 0},
	91: {"AlterShareGroupOffsets", 0, 0},
	92: {"DeleteShareGroupOffsets", 0, 0},
}

// API keys decoded in detail.
const (
	keyProduce          = 0
	keyFetch            = 1
	keyListOffsets      = 2
	keyMetadata         = 3
	keyOffsetCommit     = 8
	keyOffsetFetch      = 9
	keyFindCoordinator  = 10
	keyJoinGroup        = 11
	keyHeartbeat        = 12
	keyLeaveGroup       = 13
	keySyncGroup        = 14
	keySaslHandshake    = 17
	keyApiVersions      = 18
	keyCreateTopics     = 19
	keyInitProducerID   = 22
	keySaslAuthenticate = 36
)

// slackVersions is how far past maxKnown a version is still taken for
// Kafka at detection (brokers newer than this table); such exchanges
// get their header decoded and a note instead of a body summary.
const slackVersions = 4

// apiName is the name of an api key, or "ApiKey(N)" when unknown.
func apiName(key int16) string {
	if key >= 0 && int(key) < len(apis) && apis[key].name != "" {
		return apis[key].name
	}
	return "ApiKey(" + itoa(int64(key)) + ")"
}

// knownKey reports whether key names an API of the table.
func knownKey(key int16) bool {
	return key >= 0 && int(key) < len(apis) && apis[key].name != ""
}

// flexible reports whether version of key uses the flexible encoding.
// Versions past the table follow the rule that once flexible an API
// stays flexible.
func flexible(key, version int16) bool {
	if !knownKey(key) {
		return false
	}
	f := apis[key].flexFrom
	return f >= 0 && version >= f
}

// requestHeaderVersion is 2 for flexible versions, 1 otherwise
// (ControlledShutdown v0 alone used header v0, which has no client id).
func requestHeaderVersion(key, version int16) int {
	switch {
	case key == 7 && version == 0:
		return 0
	case flexible(key, version):
		return 2
	}
	return 1
}

// responseHeaderVersion is 1 (with tagged fields) for flexible versions,
// except ApiVersions, whose response header is always v0 so a client can
// read it before it knows what the broker supports.
func responseHeaderVersion(key, version int16) int {
	if key == keyApiVersions || !flexible(key, version) {
		return 0
	}
	return 1
}

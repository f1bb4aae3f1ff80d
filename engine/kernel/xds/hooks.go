package xds

// SubscriberHooks let the caller count what a subscription does (e.g. as Prometheus
// counters); nil funcs are skipped. They run on the subscription goroutine: keep
// them quick.
type SubscriberHooks struct {
	OnUpdate    func(version string)            // a config was applied and ACKed
	OnNACK      func(version string, err error) // a config was rejected and NACKed
	OnReconnect func(err error)                 // the stream broke and will be retried
}

// ServerHooks let the caller observe the serving side.
type ServerHooks struct {
	OnPublish func(version string, parts int)    // a new snapshot from the config file
	OnNACK    func(node, version, detail string) // a subscriber rejected a snapshot
	OnInvalid func(err error)                    // the config file could not be split
}

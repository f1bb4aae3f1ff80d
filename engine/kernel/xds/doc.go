// Package xds is policy discovery over xDS: an engine can subscribe to a management
// server for its route -> policy chain configuration, and the same binary can be that
// management server, serving its own config file so a fleet of engines shares one
// source.
//
// The resource type is policyengine.v1.ConfigPart (engine/api/policyengine/v1): one
// resource per route chain plus one for the global settings, always sent as a whole
// (state of the world over ADS), so a subscriber reassembles one config document and
// applies or rejects it as a whole. The server is go-control-plane's server and
// snapshot cache; the subscriber uses go-control-plane's ADS client.
package xds

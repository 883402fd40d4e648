package stats

import (
	"strconv"
	"time"
)

// SysTopic is one topic of the $SYS tree and its value.
type SysTopic struct{ Name, Value string }

// Sys renders a snapshot as the $SYS/broker/... tree, names as Mosquitto uses them where they apply, plus the
// per-transport part $SYS/broker/transport/{tcp,ws}/....
func Sys(version string, sn *Snapshot) []SysTopic {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	out := []SysTopic{
		{"$SYS/broker/version", version},
		{"$SYS/broker/uptime", i(int64(sn.Uptime/time.Second)) + " seconds"},
		{"$SYS/broker/clients/connected", i(sn.Connected)},
		{"$SYS/broker/clients/total", i(sn.Sessions)},
		{"$SYS/broker/clients/disconnected", i(sn.Sessions - sn.Connected)},
		{"$SYS/broker/connections/total", u(sn.TotalConnects)},
		{"$SYS/broker/messages/received", u(sn.MsgsIn)},
		{"$SYS/broker/messages/sent", u(sn.MsgsOut)},
		{"$SYS/broker/messages/dropped", u(sn.Dropped())},
		{"$SYS/broker/load/bytes/received", u(sn.BytesIn)},
		{"$SYS/broker/load/bytes/sent", u(sn.BytesOut)},
		{"$SYS/broker/bytes/received", u(sn.BytesIn)},
		{"$SYS/broker/bytes/sent", u(sn.BytesOut)},
		{"$SYS/broker/subscriptions/count", i(sn.Subscriptions)},
		{"$SYS/broker/retained messages/count", i(sn.Retained)},
	}
	for tr := range NumTransports {
		p := "$SYS/broker/transport/" + tr.String() + "/"
		out = append(out,
			SysTopic{p + "connections/current", i(sn.Open[tr])},
			SysTopic{p + "connections/total", u(sn.Connects[tr])},
			SysTopic{p + "bytes/received", u(sn.TransportBytesIn(tr))},
			SysTopic{p + "bytes/sent", u(sn.TransportBytesOut(tr))},
			SysTopic{p + "packets/received", u(sn.TransportPackets(In, tr))},
			SysTopic{p + "packets/sent", u(sn.TransportPackets(Out, tr))},
		)
	}
	return out
}

package devproxy

import (
	"fmt"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/proto"
)

// checkMode rejects body modes the dev proxy cannot reproduce faithfully. STREAMED and
// BUFFERED_PARTIAL are served as one chunk with end_of_stream, which is a valid
// sequence for both; FULL_DUPLEX_STREAMED and GRPC need a different response protocol.
func checkMode(m *filterv3.ProcessingMode) error {
	for _, b := range []filterv3.ProcessingMode_BodySendMode{m.GetRequestBodyMode(), m.GetResponseBodyMode()} {
		switch b {
		case filterv3.ProcessingMode_NONE, filterv3.ProcessingMode_BUFFERED,
			filterv3.ProcessingMode_STREAMED, filterv3.ProcessingMode_BUFFERED_PARTIAL:
		default:
			return fmt.Errorf("devproxy: body mode %s is not supported", b)
		}
	}
	return nil
}

// sendHeaders reports whether a header phase is sent: DEFAULT means SEND for headers.
func sendHeaders(m filterv3.ProcessingMode_HeaderSendMode) bool {
	return m != filterv3.ProcessingMode_SKIP
}

func sendBody(m filterv3.ProcessingMode_BodySendMode) bool {
	return m != filterv3.ProcessingMode_NONE
}

// override applies a mode_override the way Envoy does: only the fields of phases that
// are still ahead matter, and DEFAULT header modes keep the current setting.
func override(cur, o *filterv3.ProcessingMode) *filterv3.ProcessingMode {
	next := proto.Clone(cur).(*filterv3.ProcessingMode)
	if o.GetResponseHeaderMode() != filterv3.ProcessingMode_DEFAULT {
		next.ResponseHeaderMode = o.GetResponseHeaderMode()
	}
	if o.GetRequestTrailerMode() != filterv3.ProcessingMode_DEFAULT {
		next.RequestTrailerMode = o.GetRequestTrailerMode()
	}
	if o.GetResponseTrailerMode() != filterv3.ProcessingMode_DEFAULT {
		next.ResponseTrailerMode = o.GetResponseTrailerMode()
	}
	next.RequestBodyMode = o.GetRequestBodyMode()
	next.ResponseBodyMode = o.GetResponseBodyMode()
	return next
}

package devproxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// readLimited buffers a body the way Envoy's buffer limit does: at most max bytes,
// and errTooLarge when there is more.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = fmt.Errorf("body exceeds the buffer limit")

// mutateBody applies a body mutation; ok is false when the body is left alone.
func mutateBody(m *extprocv3.BodyMutation) (body []byte, ok bool) {
	switch x := m.GetMutation().(type) {
	case *extprocv3.BodyMutation_Body:
		return x.Body, true
	case *extprocv3.BodyMutation_ClearBody:
		if x.ClearBody {
			return []byte{}, true
		}
	}
	return nil, false
}

// setLength keeps content-length consistent with a replaced body, as Envoy requires:
// the length is the new body's and chunked framing no longer applies.
func setLength(hs *headerSet, n int) {
	hs.h["content-length"] = []string{strconv.Itoa(n)}
	delete(hs.h, "transfer-encoding")
}

// bodyOutcome is what a body phase left behind.
type bodyOutcome struct {
	body     []byte // the body to forward when buffered or replaced
	buffered bool
}

// bodyPhase buffers a body, sends it as one message and applies the reply's header
// and body mutations. A nil answer without error means the processor has stepped
// out and the (buffered) body goes on as it is.
func (s *session) bodyPhase(src io.Reader, hs *headerSet, tooLarge int, mk func([]byte) *extprocv3.ProcessingRequest) (bodyOutcome, *extprocv3.ImmediateResponse, error) {
	b, err := readLimited(src, s.cfg.MaxBody)
	if err == errTooLarge {
		return bodyOutcome{}, nil, &failure{tooLarge, "buffered body larger than " + strconv.FormatInt(s.cfg.MaxBody, 10) + " bytes"}
	}
	if err != nil {
		return bodyOutcome{}, nil, &failure{http.StatusBadRequest, "reading body: " + err.Error()}
	}
	out := bodyOutcome{body: b, buffered: true}
	a, err := s.call(mk(b))
	if err != nil || a == nil {
		return out, nil, err
	}
	if a.immediate != nil {
		return out, a.immediate, nil
	}
	s.ignored(hs.apply(a.common.GetHeaderMutation()))
	if nb, ok := mutateBody(a.common.GetBodyMutation()); ok {
		out.body = nb
		setLength(hs, len(nb))
	}
	return out, nil, nil
}

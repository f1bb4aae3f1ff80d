package devproxy

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// processResponse runs the response-side phases on the upstream's response and
// rewrites it in place; it is the reverse proxy's ModifyResponse hook.
func (s *session) processResponse(resp *http.Response) error {
	if s.done {
		return nil
	}
	hs := newHeaderSet(map[string]string{":status": strconv.Itoa(resp.StatusCode)}, resp.Header)
	eos := resp.ContentLength == 0
	replaced := false
	var newBody []byte
	if sendHeaders(s.mode.GetResponseHeaderMode()) {
		a, err := s.call(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
			ResponseHeaders: &extprocv3.HttpHeaders{Headers: hs.headerMap(), EndOfStream: eos},
		}})
		if err != nil {
			return err
		}
		if a != nil && a.immediate != nil {
			replaceWithImmediate(resp, a.immediate)
			return nil
		}
		if a != nil {
			s.ignored(hs.apply(a.common.GetHeaderMutation()))
			if a.common.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
				if nb, ok := mutateBody(a.common.GetBodyMutation()); ok {
					newBody, replaced = nb, true
					setLength(hs, len(nb))
				}
			}
		}
	}
	if !eos && !replaced && !s.done && sendBody(s.mode.GetResponseBodyMode()) {
		// Envoy cannot send a 413 once the upstream answered: an oversized buffered
		// response becomes a 500 local reply.
		out, imm, err := s.bodyPhase(resp.Body, hs, http.StatusInternalServerError, func(b []byte) *extprocv3.ProcessingRequest {
			return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
				ResponseBody: &extprocv3.HttpBody{Body: b, EndOfStream: true},
			}}
		})
		if err != nil {
			return err
		}
		if imm != nil {
			replaceWithImmediate(resp, imm)
			return nil
		}
		newBody, replaced = out.body, true
	}
	if code, err := strconv.Atoi(hs.pseudo[":status"]); err == nil && code >= 100 && code <= 999 {
		resp.StatusCode = code
	}
	resp.Header = hs.httpHeader()
	if replaced {
		setBody(resp, newBody)
	}
	return nil
}

func setBody(resp *http.Response, b []byte) {
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.TransferEncoding = nil
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
}

// replaceWithImmediate turns the upstream response into the processor's local reply.
func replaceWithImmediate(resp *http.Response, ir *extprocv3.ImmediateResponse) {
	code, h, body := immediate(ir)
	resp.StatusCode = code
	resp.Status = ""
	resp.Header = h
	setBody(resp, body)
}

// immediate renders an ImmediateResponse as Envoy's local reply; an unset status
// means 200, and its headers pass the same mutation rules as any other.
func immediate(ir *extprocv3.ImmediateResponse) (int, http.Header, []byte) {
	code := int(ir.GetStatus().GetCode())
	if code == 0 {
		code = http.StatusOK
	}
	hs := newHeaderSet(map[string]string{}, nil)
	hs.apply(ir.GetHeaders())
	return code, hs.httpHeader(), ir.GetBody()
}

func writeImmediate(w http.ResponseWriter, ir *extprocv3.ImmediateResponse) {
	code, h, body := immediate(ir)
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

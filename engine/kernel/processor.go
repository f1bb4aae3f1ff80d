package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/policy-engine-builder/policy-engine/pkg/cel"
	"github.com/policy-engine-builder/policy-engine/worker/core"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// MaxBodyBytes bounds a body the policies read. The generated Envoy
// configuration lets Envoy buffer this much on routes whose chain reads the body,
// so Envoy itself answers 413 past it.
const MaxBodyBytes = 8 << 20

// MaxMessageBytes is the largest ext_proc message the server must accept: a whole
// buffered body up to MaxBodyBytes plus headers. gRPC's default (4 MiB) would fail
// the stream on a large buffered body instead of answering it.
const MaxMessageBytes = MaxBodyBytes + 1<<20

// Request-phase decisions counted per request.
const (
	decisionAllow    = "allow"
	decisionDeny     = "deny"
	decisionError    = "error"
	decisionNoRoute  = "no_route"
	decisionNotReady = "not_ready"
)

// processor is the state of one ext_proc stream, i.e. one HTTP request. It
// handles one Envoy message at a time and always returns the matching response.
type processor struct {
	srv *Server
	ctx context.Context

	snap  *core.Snapshot
	chain *core.Chain

	req *policies.RequestContext
	// reqBody: the request policies from chain.RequestBodyFrom on wait for it.
	reqBody bodyWait

	resp     *policies.ResponseContext
	respBody bodyWait
}

// bodyWait is a body that policies wait for. The engine asks Envoy for it BUFFERED,
// so it arrives whole in one message; that message's end_of_stream is false when
// trailers follow, so it must not be read as "more body to come" (which let a
// request with trailers pass its body policies unchecked).
type bodyWait struct {
	pending bool
	// replaced is a body replacement decided on headers while later policies
	// still wait for the body: they see it, and it is sent with the body.
	replaced *policies.BodyChange
}

// bodyState is what a body message means for the policies.
type bodyState int

const (
	bodyPass     bodyState = iota // no policy waits: answer without changes
	bodyTooBig                    // over MaxBodyBytes: the wait is over, answer with an error
	bodyComplete                  // the body the policies wait for: run them
)

// take ends the wait with chunk, the whole buffered body. On bodyComplete it
// returns the body those policies see: the replacement decided on headers, if any.
func (w *bodyWait) take(chunk *extprocv3.HttpBody) ([]byte, bodyState) {
	if !w.pending {
		return nil, bodyPass
	}
	w.pending = false
	if len(chunk.GetBody()) > MaxBodyBytes {
		return nil, bodyTooBig
	}
	if w.replaced != nil {
		return w.replaced.Content, bodyComplete
	}
	return chunk.GetBody(), bodyComplete
}

func (p *processor) handle(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return p.requestHeaders(req, r.RequestHeaders)
	case *extprocv3.ProcessingRequest_RequestBody:
		return p.requestBody(r.RequestBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return requestTrailersResponse()
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return p.responseHeaders(r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return p.responseBody(r.ResponseBody)
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return responseTrailersResponse()
	}
	return nil
}

func (p *processor) requestHeaders(req *extprocv3.ProcessingRequest, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	// Request headers start a request: nothing from an earlier one may leak in.
	*p = processor{srv: p.srv, ctx: p.ctx}
	p.snap = p.srv.Store.Current()
	if p.snap == nil {
		p.srv.Metrics.RequestDecided("", decisionNotReady)
		return plainResponse(503, "policy engine has no configuration yet\n", detailsNotReady)
	}
	attrs := readAttributes(req)
	chain, how := selectChain(p.snap, attrs, req.GetMetadataContext())
	if chain == nil {
		p.srv.Logger.Debug("no policy chain for route", "route", attrs.routeName, "allow", p.snap.AllowNoRoute())
		p.srv.Metrics.RequestDecided("", decisionNoRoute)
		if p.snap.AllowNoRoute() {
			return requestHeadersResponse(&extprocv3.CommonResponse{}, skipEverything)
		}
		return plainResponse(403, "no policy chain for this route\n", detailsNoRoute)
	}
	p.chain = chain
	headers := headersOf(h.GetHeaders())
	p.req = &policies.RequestContext{
		Context:       p.ctx,
		Route:         chain.Route,
		Headers:       headers,
		Method:        headers.Get(":method"),
		Path:          headers.Get(":path"),
		Scheme:        headers.Get(":scheme"),
		Authority:     headers.Get(":authority"),
		ClientAddress: attrs.sourceAddress,
		Attributes:    attrs.all,
		Shared:        map[string]any{},
	}
	if p.srv.Logger.Enabled(p.ctx, slog.LevelDebug) {
		p.srv.Logger.Debug("request mapped", "route", attrs.routeName, "chain", chain.Route, "matched_by", how)
	}

	// A request without a body runs its whole chain now.
	instances := chain.Request
	p.reqBody.pending = chain.NeedsRequestBody() && !h.GetEndOfStream()
	if p.reqBody.pending {
		instances = chain.Request[:chain.RequestBodyFrom]
	}
	ctx := p.phaseContext()
	res := p.srv.Executor.RunRequest(ctx, chain, instances, p.req, p.requestVars)
	if stop := p.requestStop(res); stop != nil {
		return stop
	}
	if p.reqBody.pending && res.Body != nil {
		p.reqBody.replaced, res.Body = res.Body, nil
	}
	if !p.reqBody.pending {
		p.srv.Metrics.RequestDecided(chain.Route, decisionAllow)
	}
	t := p.translate(mutation{headers: &res.Headers, body: res.Body, path: res.Path, method: res.Method}, true)
	return requestHeadersResponse(t, p.mode(h.GetEndOfStream()))
}

func (p *processor) requestBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	body, state := p.reqBody.take(b)
	switch state {
	case bodyPass:
		return requestBodyResponse(&extprocv3.CommonResponse{})
	case bodyTooBig:
		p.srv.Metrics.RequestDecided(p.chain.Route, decisionDeny)
		return plainResponse(413, "request body too large for the policy engine\n", detailsBodyTooBig)
	}
	p.req.Body = body
	ctx := p.phaseContext()
	res := p.srv.Executor.RunRequest(ctx, p.chain, p.chain.Request[p.chain.RequestBodyFrom:], p.req, p.requestVars)
	if stop := p.requestStop(res); stop != nil {
		return stop
	}
	p.srv.Metrics.RequestDecided(p.chain.Route, decisionAllow)
	if res.Body == nil {
		res.Body = p.reqBody.replaced
	}
	t := p.translate(mutation{headers: &res.Headers, body: res.Body, path: res.Path, method: res.Method}, false)
	return requestBodyResponse(t)
}

func (p *processor) requestStop(res core.RequestResult) *extprocv3.ProcessingResponse {
	switch {
	case res.Failure != nil:
		p.reqBody.pending = false
		p.srv.Metrics.RequestDecided(p.chain.Route, decisionError)
		return errorResponse(res.Failure.ID)
	case res.Immediate != nil:
		p.reqBody.pending = false
		p.srv.Metrics.RequestDecided(p.chain.Route, decisionDeny)
		return immediateResponse(res.Immediate)
	}
	return nil
}

func (p *processor) responseHeaders(h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	if stop := p.missedRequestBody(); stop != nil {
		return stop
	}
	if p.chain == nil || len(p.chain.Response) == 0 {
		return responseHeadersResponse(&extprocv3.CommonResponse{})
	}
	headers := headersOf(h.GetHeaders())
	status, _ := strconv.Atoi(headers.Get(":status"))
	p.resp = &policies.ResponseContext{
		Context: p.ctx,
		Route:   p.chain.Route,
		Request: p.req,
		Status:  status,
		Headers: headers,
		Shared:  p.req.Shared,
	}
	instances := p.chain.Response
	p.respBody.pending = p.chain.NeedsResponseBody() && !h.GetEndOfStream()
	if p.respBody.pending {
		instances = p.chain.Response[:p.chain.ResponseBodyFrom]
	}
	ctx := p.phaseContext()
	res := p.srv.Executor.RunResponse(ctx, p.chain, instances, p.resp, p.responseVars)
	if stop := p.responseStop(res); stop != nil {
		return stop
	}
	if p.respBody.pending && res.Body != nil {
		p.respBody.replaced, res.Body = res.Body, nil
	}
	return responseHeadersResponse(p.translate(mutation{headers: &res.Headers, body: res.Body, status: res.Status}, true))
}

func (p *processor) responseBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	body, state := p.respBody.take(b)
	switch state {
	case bodyPass:
		return responseBodyResponse(&extprocv3.CommonResponse{})
	case bodyTooBig:
		return plainResponse(502, "response body too large for the policy engine\n", detailsBodyTooBig)
	}
	p.resp.Body = body
	ctx := p.phaseContext()
	res := p.srv.Executor.RunResponse(ctx, p.chain, p.chain.Response[p.chain.ResponseBodyFrom:], p.resp, p.responseVars)
	if stop := p.responseStop(res); stop != nil {
		return stop
	}
	if res.Body == nil {
		res.Body = p.respBody.replaced
	}
	return responseBodyResponse(p.translate(mutation{headers: &res.Headers, body: res.Body, status: res.Status}, false))
}

func (p *processor) responseStop(res core.ResponseResult) *extprocv3.ProcessingResponse {
	switch {
	case res.Failure != nil:
		p.respBody.pending = false
		return errorResponse(res.Failure.ID)
	case res.Immediate != nil:
		p.respBody.pending = false
		return immediateResponse(res.Immediate)
	}
	return nil
}

// missedRequestBody catches Envoy moving on to the response while request
// policies still wait for the body, which happens when the filter does not allow
// mode_override: those policies never ran, and that must not pass silently.
func (p *processor) missedRequestBody() *extprocv3.ProcessingResponse {
	if !p.reqBody.pending {
		return nil
	}
	p.reqBody.pending = false
	id := core.NewErrorID()
	p.srv.Logger.Error("request body policies did not run: Envoy sent no request body (does the ext_proc filter set allow_mode_override?)",
		"error_id", id, "route", p.chain.Route, "fail_open", p.chain.FailOpen)
	if p.chain.FailOpen {
		p.srv.Metrics.RequestDecided(p.chain.Route, decisionAllow)
		return nil
	}
	p.srv.Metrics.RequestDecided(p.chain.Route, decisionError)
	return errorResponse(id)
}

func (p *processor) translate(m mutation, replaceBody bool) *extprocv3.CommonResponse {
	t := translate(m, p.snap.MutationRules(), replaceBody)
	if len(t.dropped) > 0 {
		p.srv.Logger.Warn("header changes withheld: Envoy's mutation rules ignore them (see mutationRules)",
			"route", p.chain.Route, "headers", fmt.Sprint(t.dropped))
		p.srv.Metrics.HeadersDropped(p.chain.Route, len(t.dropped))
	}
	return t.common
}

// mode asks Envoy only for what the chain needs: bodies only when a policy needs
// them, response headers only when a response policy exists.
func (p *processor) mode(requestEnded bool) *extprocfilterv3.ProcessingMode {
	requestBody := p.chain.NeedsRequestBody() && !requestEnded
	response := len(p.chain.Response) > 0
	return modes[b2i(requestBody)][b2i(response)][b2i(response && p.chain.NeedsResponseBody())]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// skipEverything asks Envoy for nothing more about this request.
var skipEverything = modes[0][0][0]

// modes are the answers of mode, built once: they are read-only once sent, and
// building one per request showed in the allocation profile.
var modes = func() (m [2][2][2]*extprocfilterv3.ProcessingMode) {
	for _, requestBody := range []bool{false, true} {
		for _, response := range []bool{false, true} {
			for _, responseBody := range []bool{false, true} {
				pm := &extprocfilterv3.ProcessingMode{
					RequestBodyMode:     extprocfilterv3.ProcessingMode_NONE,
					ResponseHeaderMode:  extprocfilterv3.ProcessingMode_SKIP,
					ResponseBodyMode:    extprocfilterv3.ProcessingMode_NONE,
					RequestTrailerMode:  extprocfilterv3.ProcessingMode_SKIP,
					ResponseTrailerMode: extprocfilterv3.ProcessingMode_SKIP,
				}
				if requestBody {
					pm.RequestBodyMode = extprocfilterv3.ProcessingMode_BUFFERED
				}
				if response {
					pm.ResponseHeaderMode = extprocfilterv3.ProcessingMode_SEND
				}
				if responseBody {
					pm.ResponseBodyMode = extprocfilterv3.ProcessingMode_BUFFERED
				}
				m[b2i(requestBody)][b2i(response)][b2i(responseBody)] = pm
			}
		}
	}
	return m
}()

// phaseContext bounds the policies run for one message together.
func (p *processor) phaseContext() context.Context {
	return core.PhaseContext(p.ctx, time.Now().Add(p.snap.PhaseTimeout()))
}

// requestVars and responseVars build CEL variables from the current contexts;
// the executor calls them only when a condition needs them.
func (p *processor) requestVars() map[string]any {
	return cel.RequestVars(p.chain.Route, p.req.Method, p.req.Path, p.req.Headers)
}

func (p *processor) responseVars() map[string]any {
	return cel.ResponseVars(p.requestVars(), p.resp.Status, p.resp.Headers)
}

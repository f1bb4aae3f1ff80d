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

	req    *policies.RequestContext
	reqDir direction

	resp    *policies.ResponseContext
	respDir direction
}

// direction is the request or the response half of the stream: p.reqDir or
// p.respDir, which the processor's methods tell apart by address.
type direction struct {
	// bodyPolicies are the policies (from the chain's body split on) that wait
	// for the body. The engine asks Envoy for it BUFFERED, so it arrives whole in
	// one message; that message's end_of_stream is false when trailers follow, so
	// it must not be read as "more body to come" (which let a request with
	// trailers pass its body policies unchecked).
	bodyPolicies []*core.Instance
	// res gathers what the policies change until it is sent. A body replacement
	// decided on headers while policies wait for the body stays here: those
	// policies see it (it is in their context already) and it goes with the body.
	res core.Result
}

func (d *direction) waitsForBody() bool { return len(d.bodyPolicies) > 0 }

// start splits instances at bodyFrom when the body will come and policies need
// it, and returns the ones that run on headers.
func (d *direction) start(instances []*core.Instance, bodyFrom int, bodyComes bool) []*core.Instance {
	if !bodyComes || bodyFrom == len(instances) {
		return instances
	}
	d.bodyPolicies = instances[bodyFrom:]
	return instances[:bodyFrom]
}

func (p *processor) handle(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return p.requestHeaders(req, r.RequestHeaders)
	case *extprocv3.ProcessingRequest_RequestBody:
		return p.body(&p.reqDir, r.RequestBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return requestTrailersResponse()
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return p.responseHeaders(r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return p.body(&p.respDir, r.ResponseBody)
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
	instances := p.reqDir.start(chain.Request, chain.RequestBodyFrom, !h.GetEndOfStream())
	if stop := p.run(&p.reqDir, instances); stop != nil {
		return stop
	}
	if !p.reqDir.waitsForBody() {
		p.srv.Metrics.RequestDecided(chain.Route, decisionAllow)
	}
	return requestHeadersResponse(p.headersChanges(&p.reqDir), p.mode(h.GetEndOfStream()))
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
	instances := p.respDir.start(p.chain.Response, p.chain.ResponseBodyFrom, !h.GetEndOfStream())
	if stop := p.run(&p.respDir, instances); stop != nil {
		return stop
	}
	return responseHeadersResponse(p.headersChanges(&p.respDir))
}

// body runs the policies of d that wait for the body, and returns the answer to the
// body message or the answer that stops the request.
func (p *processor) body(d *direction, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if !d.waitsForBody() {
		return p.bodyResponse(d, &extprocv3.CommonResponse{})
	}
	instances := d.bodyPolicies
	d.bodyPolicies = nil
	if len(b.GetBody()) > MaxBodyBytes {
		if d == &p.reqDir {
			p.srv.Metrics.RequestDecided(p.chain.Route, decisionDeny)
			return plainResponse(413, "request body too large for the policy engine\n", detailsBodyTooBig)
		}
		return plainResponse(502, "response body too large for the policy engine\n", detailsBodyTooBig)
	}
	// A replacement decided on headers is what the policies see, not Envoy's body.
	if d.res.Body == nil {
		if d == &p.reqDir {
			p.req.Body = b.GetBody()
		} else {
			p.resp.Body = b.GetBody()
		}
	}
	if stop := p.run(d, instances); stop != nil {
		return stop
	}
	if d == &p.reqDir {
		p.srv.Metrics.RequestDecided(p.chain.Route, decisionAllow)
	}
	return p.bodyResponse(d, p.commonResponse(&d.res, false))
}

// bodyResponse answers a body message of direction d with common.
func (p *processor) bodyResponse(d *direction, common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	if d == &p.reqDir {
		return requestBodyResponse(common)
	}
	return responseBodyResponse(common)
}

// run runs instances in direction d and returns the answer when one of them stops
// the request, else nil.
func (p *processor) run(d *direction, instances []*core.Instance) *extprocv3.ProcessingResponse {
	ctx := p.phaseContext()
	if d == &p.reqDir {
		p.srv.Executor.RunRequest(ctx, p.chain, instances, p.req, p.requestVars, &d.res)
	} else {
		p.srv.Executor.RunResponse(ctx, p.chain, instances, p.resp, p.responseVars, &d.res)
	}
	var stop *extprocv3.ProcessingResponse
	decision := decisionDeny
	switch {
	case d.res.Failure != nil:
		decision, stop = decisionError, errorResponse(d.res.Failure.ID)
	case d.res.Immediate != nil:
		stop = immediateResponse(d.res.Immediate)
	default:
		return nil
	}
	d.bodyPolicies = nil
	if d == &p.reqDir {
		p.srv.Metrics.RequestDecided(p.chain.Route, decision)
	}
	return stop
}

// headersChanges answers a headers message with what d's policies changed. While
// policies wait for the body, a body replacement stays in d.res to go with the
// body: replacing the body from a headers response (CONTINUE_AND_REPLACE) would
// end the wait. The rest is sent now, so it leaves d.res.
func (p *processor) headersChanges(d *direction) *extprocv3.CommonResponse {
	if !d.waitsForBody() {
		return p.commonResponse(&d.res, true)
	}
	body := d.res.Body
	d.res.Body = nil
	common := p.commonResponse(&d.res, true)
	d.res = core.Result{Body: body}
	return common
}

// missedRequestBody catches Envoy moving on to the response while request
// policies still wait for the body, which happens when the filter does not allow
// mode_override: those policies never ran, and that must not pass silently.
func (p *processor) missedRequestBody() *extprocv3.ProcessingResponse {
	if !p.reqDir.waitsForBody() {
		return nil
	}
	p.reqDir.bodyPolicies = nil
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

// commonResponse translates r, logging and counting the header changes Envoy's
// mutation rules would ignore.
func (p *processor) commonResponse(r *core.Result, onHeaders bool) *extprocv3.CommonResponse {
	common, dropped := translate(r, p.snap.MutationRules(), onHeaders)
	if len(dropped) > 0 {
		p.srv.Logger.Warn("header changes withheld: Envoy's mutation rules ignore them (see mutationRules)",
			"route", p.chain.Route, "headers", fmt.Sprint(dropped))
		p.srv.Metrics.HeadersDropped(p.chain.Route, len(dropped))
	}
	return common
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

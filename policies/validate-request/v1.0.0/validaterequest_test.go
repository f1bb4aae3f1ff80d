package validaterequest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// orderSchema is written as the engine passes it: decoded JSON, numbers float64.
func orderSchema(t testing.TB) map[string]interface{} {
	t.Helper()
	var s map[string]interface{}
	err := json.Unmarshal([]byte(`{
		"type": "object",
		"required": ["id", "items"],
		"properties": {
			"id": {"type": "string", "pattern": "^ord-[0-9]+$"},
			"items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}}
		},
		"additionalProperties": false,
		"$defs": {"item": {"type": "object", "required": ["sku", "qty"], "properties": {
			"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1, "maximum": 100}}}}
	}`), &s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"schema": orderSchema(t)})
	policytest.CheckSpec(t, ".", p, params{})
}

func request(method, contentType, body string) *policies.RequestContext {
	h := map[string][]string{"content-length": {strconv.Itoa(len(body))}}
	if contentType != "" {
		h["content-type"] = []string{contentType}
	}
	return &policies.RequestContext{Context: context.Background(), Method: method, Headers: policies.NewHeaders(h), Body: []byte(body)}
}

type problemBody struct {
	Type   string    `json:"type"`
	Title  string    `json:"title"`
	Status int       `json:"status"`
	Detail string    `json:"detail"`
	Errors []failure `json:"errors"`
}

func answer(t *testing.T, a *policies.RequestPolicyAction, status int) problemBody {
	t.Helper()
	if a == nil || a.Immediate == nil {
		t.Fatalf("want %d, the request passed: %+v", status, a)
	}
	if a.Immediate.Status != status || a.Immediate.Headers["content-type"] != "application/problem+json" {
		t.Fatalf("got %d %v, want %d problem+json", a.Immediate.Status, a.Immediate.Headers, status)
	}
	var p problemBody
	if err := json.Unmarshal(a.Immediate.Body, &p); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, a.Immediate.Body)
	}
	if p.Status != status || p.Type != "about:blank" || p.Title == "" || p.Detail == "" {
		t.Errorf("problem fields: %+v", p)
	}
	return p
}

func TestValidBodyPasses(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"schema": orderSchema(t)}).(*Policy)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/vnd.orders+json"} {
		if a := p.ExecuteRequest(request("POST", ct, `{"id":"ord-1","items":[{"sku":"a","qty":2}]}`), nil); a != nil {
			t.Errorf("%s: valid body refused: %+v", ct, a.Immediate)
		}
	}
}

func TestInvalidBodyNamesEachLocation(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"schema": orderSchema(t)}).(*Policy)
	a := p.ExecuteRequest(request("POST", "application/json", `{"id":"x","items":[{"sku":"a","qty":2},{"sku":1,"qty":0}],"extra":true}`), nil)
	got := answer(t, a, 400)
	var locations []string
	for _, f := range got.Errors {
		locations = append(locations, f.Location)
		if f.Message == "" {
			t.Errorf("no message for %s", f.Location)
		}
	}
	if want := []string{"", "/id", "/items/1/qty", "/items/1/sku"}; !reflect.DeepEqual(locations, want) {
		t.Errorf("locations %q, want %q\n%s", locations, want, a.Immediate.Body)
	}
}

func TestRefusals(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"schema": orderSchema(t), "maxBodyBytes": 64.0}).(*Policy)
	big := `{"id":"ord-1","items":[{"sku":"` + strings.Repeat("a", 64) + `","qty":1}]}`
	answer(t, p.ExecuteRequest(request("POST", "application/json", big), nil), 413)
	// The header alone is enough: no body is parsed.
	r := request("POST", "application/json", "{")
	r.Headers = policies.NewHeaders(map[string][]string{"content-length": {"65"}, "content-type": {"application/json"}})
	answer(t, p.ExecuteRequest(r, nil), 413)
	answer(t, p.ExecuteRequest(request("POST", "text/plain", `{"id":"ord-1"}`), nil), 415)
	answer(t, p.ExecuteRequest(request("POST", "", `{"id":"ord-1"}`), nil), 415)
	answer(t, p.ExecuteRequest(request("POST", "application/json", ""), nil), 400)
	if got := answer(t, p.ExecuteRequest(request("POST", "application/json", `{"id":`), nil), 400); !strings.Contains(got.Detail, "not valid JSON") {
		t.Errorf("detail %q", got.Detail)
	}
	answer(t, p.ExecuteRequest(request("PUT", "application/json", `{} {}`), nil), 400)
	if a := p.ExecuteRequest(request("GET", "", ""), nil); a != nil {
		t.Errorf("GET is not in methods, yet: %+v", a)
	}
}

func TestManyFailuresAreCapped(t *testing.T) {
	var schema map[string]interface{}
	_ = json.Unmarshal([]byte(`{"type":"array","items":{"type":"integer"}}`), &schema)
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"schema": schema}).(*Policy)
	body := "[" + strings.TrimSuffix(strings.Repeat(`"x",`, 50), ",") + "]"
	if got := answer(t, p.ExecuteRequest(request("POST", "application/json", body), nil), 400); len(got.Errors) != maxReported {
		t.Errorf("%d failures listed, want %d", len(got.Errors), maxReported)
	}
}

// TestBodyNumbersKeepPrecision: the body is parsed with json.Number, so 2^53+1 is not
// rounded to 2^53 (float64 would round it, and pass it).
func TestBodyNumbersKeepPrecision(t *testing.T) {
	var schema map[string]interface{}
	_ = json.Unmarshal([]byte(`{"type":"object","properties":{"n":{"type":"integer","maximum":9007199254740992}}}`), &schema)
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"schema": schema}).(*Policy)
	if a := p.ExecuteRequest(request("POST", "application/json", `{"n":9007199254740992}`), nil); a != nil {
		t.Errorf("refused: %s", a.Immediate.Body)
	}
	answer(t, p.ExecuteRequest(request("POST", "application/json", `{"n":9007199254740993}`), nil), 400)
}

func TestRejectedParameters(t *testing.T) {
	schema := func(s string) map[string]interface{} {
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Params: map[string]interface{}{}, WantErr: `parameter "schema": required parameter missing`},
		{Params: map[string]interface{}{"schema": "{}"}, WantErr: `parameter "schema"`},
		{Params: map[string]interface{}{"schema": schema(`{"type":"strin"}`)}, WantErr: `parameter "schema": not a valid JSON Schema`},
		{Params: map[string]interface{}{"schema": schema(`{"minimum":"1"}`)}, WantErr: `parameter "schema": not a valid JSON Schema`},
		{Params: map[string]interface{}{"schema": schema(`{"$ref":"file:///etc/passwd"}`)}, WantErr: `parameter "schema": not a valid JSON Schema`},
		{Params: map[string]interface{}{"schema": schema(`{"$ref":"https://example.com/s.json"}`)}, WantErr: `only references inside it are resolved`},
		{Params: map[string]interface{}{"schema": schema(`{"$ref":"#/$defs/missing"}`)}, WantErr: `parameter "schema"`},
		{Params: map[string]interface{}{"schema": schema(`{}`), "maxBodyBytes": 0.0}, WantErr: `parameter "maxBodyBytes"`},
		{Params: map[string]interface{}{"schema": schema(`{}`), "maxBodyBytes": 9e6}, WantErr: `parameter "maxBodyBytes"`},
		{Params: map[string]interface{}{"schema": schema(`{}`), "methods": []interface{}{}}, WantErr: `parameter "methods": must list at least one method`},
		{Params: map[string]interface{}{"schema": schema(`{}`), "methods": []interface{}{"POST", "PO ST"}}, WantErr: `parameter "methods": at /1: 'PO ST' does not match pattern`},
		{Params: map[string]interface{}{"schema": schema(`{}`), "maxBytes": 1.0}, WantErr: `parameter "maxBytes"`},
	})
}

func TestConcurrentUse(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"schema": orderSchema(t)}).(*Policy)
	policytest.Concurrently(t, 16, 50, func(i int) error {
		a := p.ExecuteRequest(request("POST", "application/json", `{"id":"ord-`+strconv.Itoa(i)+`","items":[{"sku":"a","qty":1}]}`), nil)
		b := p.ExecuteRequest(request("POST", "application/json", `{"id":"bad","items":[]}`), nil)
		if a != nil || b == nil || b.Immediate.Status != 400 {
			return errors.New("wrong decision under concurrency")
		}
		return nil
	})
}

func BenchmarkValidate(b *testing.B) {
	p := policytest.New(b, ".", GetPolicy, map[string]interface{}{"schema": orderSchema(b)}).(*Policy)
	var items []string
	for i := 0; len(strings.Join(items, ",")) < 1024; i++ {
		items = append(items, `{"sku":"sku-`+strconv.Itoa(i)+`","qty":3}`)
	}
	r := request("POST", "application/json", `{"id":"ord-1","items":[`+strings.Join(items, ",")+`]}`)
	b.ReportAllocs()
	for b.Loop() {
		if p.ExecuteRequest(r, nil) != nil {
			b.Fatal("refused")
		}
	}
}

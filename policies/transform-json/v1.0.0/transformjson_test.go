package transformjson

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"request": ops(`[{"op":"remove","path":"/a"}]`)})
	policytest.CheckSpec(t, ".", p, params{})
}

// ops decodes a list of changes as the engine passes it: JSON values, numbers float64.
func ops(s string) []interface{} {
	var out []interface{}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		panic(err)
	}
	return out
}

func request(contentType, body string) *policies.RequestContext {
	return &policies.RequestContext{Context: context.Background(), Method: "POST", Headers: policytest.Headers("content-type", contentType), Body: []byte(body)}
}

func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

// sameJSON compares documents, not bytes.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w interface{}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("result is not JSON: %v\n%s", err, got)
	}
	_ = json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("got  %s\nwant %s", gb, wb)
	}
}

func TestRequestChanges(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"request": ops(`[
		{"op":"set","path":"/meta/source","value":"gateway"},
		{"op":"set","path":"/count","value":3},
		{"op":"set","path":"/flags","value":{"a":true,"n":null}},
		{"op":"set","path":"/cleared","value":null},
		{"op":"remove","path":"/password"},
		{"op":"remove","path":"/not/there"},
		{"op":"rename","from":"/userName","path":"/user/name"},
		{"op":"set","path":"/a~1b","value":"slash key"}
	]`)})
	if !p.SkipResponsePhase() {
		t.Error("no response changes, yet the response phase is asked for")
	}
	a := p.ExecuteRequest(request("application/json", `{"userName":"ann","password":"s3cret","user":{"id":7},"count":1,"big":12345678901234567890,"html":"<b>&</b>"}`), nil)
	if a == nil || a.Body == nil {
		t.Fatalf("body not changed: %+v", a)
	}
	sameJSON(t, a.Body.Content, `{"user":{"id":7,"name":"ann"},"count":3,"big":12345678901234567890,"html":"<b>&</b>",
		"meta":{"source":"gateway"},"flags":{"a":true,"n":null},"cleared":null,"a/b":"slash key"}`)
	if !strings.Contains(string(a.Body.Content), "12345678901234567890") || !strings.Contains(string(a.Body.Content), "<b>&</b>") {
		t.Errorf("numbers or HTML characters were rewritten: %s", a.Body.Content)
	}
}

func TestOperationsThatDoNotApplyAreSkipped(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"request": ops(`[
		{"op":"rename","from":"/missing","path":"/x"},
		{"op":"set","path":"/name/first","value":"through a string"},
		{"op":"set","path":"/tag","value":"kept"}
	]`)})
	a := p.ExecuteRequest(request("application/json", `{"name":"ann"}`), nil)
	if a == nil || a.Body == nil {
		t.Fatalf("the applicable change was lost: %+v", a)
	}
	sameJSON(t, a.Body.Content, `{"name":"ann","tag":"kept"}`)
	q := newPolicy(t, map[string]interface{}{"request": ops(`[{"op":"rename","from":"/missing","path":"/x"}]`)})
	if a := q.ExecuteRequest(request("application/json", `{"name":"ann"}`), nil); a != nil {
		t.Errorf("nothing applied, yet the body was replaced: %+v", a)
	}
}

// TestRenameCreatesParents: a JSON Patch move needs the target's parent; rename
// creates it, as set does, and leaves nothing behind when the source is missing.
func TestRenameCreatesParents(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"request": ops(`[
		{"op":"rename","from":"/userName","path":"/user/name"},
		{"op":"rename","from":"/missing","path":"/other/x"},
		{"op":"set","path":"/v","value":1}
	]`)})
	a := p.ExecuteRequest(request("application/json", `{"userName":"ann"}`), nil)
	if a == nil || a.Body == nil {
		t.Fatalf("body not changed: %+v", a)
	}
	if string(a.Body.Content) != `{"user":{"name":"ann"},"v":1}` {
		t.Errorf("got %s", a.Body.Content)
	}
	q := newPolicy(t, map[string]interface{}{"request": ops(`[{"op":"rename","from":"/a","path":"/list/0"}]`)})
	a = q.ExecuteRequest(request("application/json", `{"a":"x","list":["y"]}`), nil)
	if a == nil || a.Body == nil || string(a.Body.Content) != `{"list":["x","y"]}` {
		t.Errorf("rename into an array: %+v", a)
	}
}

func TestArrays(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"response": ops(`[{"op":"remove","path":"/items/0/secret"},{"op":"set","path":"/items/-","value":{"id":3}}]`)})
	if p.SkipResponsePhase() {
		t.Error("response changes configured, yet the response phase is skipped")
	}
	resp := &policies.ResponseContext{Context: context.Background(), Status: 200, Headers: policytest.Headers("content-type", "application/vnd.api+json"),
		Body: []byte(`{"items":[{"id":1,"secret":"x"},{"id":2}]}`)}
	a := p.ExecuteResponse(resp, nil)
	if a == nil || a.Body == nil {
		t.Fatalf("body not changed: %+v", a)
	}
	sameJSON(t, a.Body.Content, `{"items":[{"id":1},{"id":2},{"id":3}]}`)
	if a := p.ExecuteRequest(request("application/json", `{"a":1}`), nil); a != nil {
		t.Errorf("no request changes, got %+v", a)
	}
}

func TestNonJSON(t *testing.T) {
	change := ops(`[{"op":"set","path":"/a","value":1}]`)
	cases := []struct {
		contentType, encoding, body string
	}{
		{"text/plain", "", `{"a":0}`},
		{"", "", `{"a":0}`},
		{"application/json", "", `{"a":`},
		{"application/json", "gzip", `{"a":0}`},
		{"application/jsonx", "", `{"a":0}`},
	}
	pass := newPolicy(t, map[string]interface{}{"request": change, "response": change})
	reject := newPolicy(t, map[string]interface{}{"request": change, "response": change, "nonJson": "reject"})
	for _, c := range cases {
		req := request(c.contentType, c.body)
		resp := &policies.ResponseContext{Context: context.Background(), Status: 200, Body: []byte(c.body),
			Headers: policytest.Headers("content-type", c.contentType, "content-encoding", c.encoding)}
		if c.encoding != "" {
			req.Headers = policytest.Headers("content-type", c.contentType, "content-encoding", c.encoding)
		}
		if a := pass.ExecuteRequest(req, nil); a != nil {
			t.Errorf("%+v: nonJson pass: request changed: %+v", c, a)
		}
		if a := pass.ExecuteResponse(resp, nil); a != nil {
			t.Errorf("%+v: nonJson pass: response changed: %+v", c, a)
		}
		if a := reject.ExecuteRequest(req, nil); a == nil || a.Immediate == nil || a.Immediate.Status != 415 || a.Immediate.Headers["content-type"] != "application/problem+json" {
			t.Errorf("%+v: nonJson reject: request not refused with 415: %+v", c, a)
		}
		if a := reject.ExecuteResponse(resp, nil); a == nil || a.Immediate == nil || a.Immediate.Status != 502 {
			t.Errorf("%+v: nonJson reject: response not replaced with 502: %+v", c, a)
		}
	}
	// An empty body (a GET) is left alone either way.
	if a := reject.ExecuteRequest(request("", ""), nil); a != nil {
		t.Errorf("empty body refused: %+v", a)
	}
}

func TestRejectedParameters(t *testing.T) {
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Params: map[string]interface{}{}, WantErr: `parameters "request" and "response": no change configured`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"add","path":"/a","value":1}]`)}, WantErr: `parameter "request": item 0: op "add": want set, remove or rename`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"set","path":"/a"}]`)}, WantErr: `parameter "request": item 0: set needs a value`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"set","path":"a","value":1}]`)}, WantErr: `parameter "request": item 0: path "a": want a JSON pointer`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"set","path":"","value":1}]`)}, WantErr: `item 0: path "": want a JSON pointer`},
		{Params: map[string]interface{}{"response": ops(`[{"op":"remove","path":"/a~2"}]`)}, WantErr: `parameter "response": item 0: path "/a~2": ~ must be followed by 0`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"remove","path":"/a","value":1}]`)}, WantErr: `item 0: remove takes only a path`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"rename","from":"/a","path":"/a/b"}]`)}, WantErr: `item 0: cannot rename "/a" to itself or into itself`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"rename","path":"/b"}]`)}, WantErr: `item 0: from "": want a JSON pointer`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"remove","path":"/a","to":"/b"}]`)}, WantErr: `parameter "request": at [0].to: unknown field`},
		{Params: map[string]interface{}{"request": ops(`["remove /a"]`)}, WantErr: `parameter "request"`},
		{Params: map[string]interface{}{"request": ops(`[{"op":"remove","path":"/a"}]`), "nonJson": "drop"}, WantErr: `parameter "nonJson"`},
	})
}

func TestConcurrentUse(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"request": ops(`[{"op":"set","path":"/n","value":1},{"op":"rename","from":"/a","path":"/b"}]`)})
	policytest.Concurrently(t, 16, 50, func(int) error {
		a := p.ExecuteRequest(request("application/json", `{"a":"x"}`), nil)
		if a == nil || a.Body == nil || string(a.Body.Content) != `{"n":1,"b":"x"}` {
			return fmt.Errorf("got %+v", a)
		}
		return nil
	})
}

func BenchmarkRequest(b *testing.B) {
	p := policytest.New(b, ".", GetPolicy, map[string]interface{}{"request": ops(`[{"op":"set","path":"/gateway","value":"on"},{"op":"remove","path":"/items/0/secret"}]`)}).(*Policy)
	for _, size := range []int{1 << 10, 64 << 10} {
		var items []string
		for len(strings.Join(items, ",")) < size {
			items = append(items, `{"id":12345,"name":"item name","secret":"x","tags":["a","b"]}`)
		}
		r := request("application/json", `{"items":[`+strings.Join(items, ",")+`]}`)
		b.Run(map[int]string{1 << 10: "1KiB", 64 << 10: "64KiB"}[size], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if a := p.ExecuteRequest(r, nil); a == nil || a.Body == nil {
					b.Fatal("not changed")
				}
			}
		})
	}
}

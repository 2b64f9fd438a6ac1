package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes each export
// (protobuf, the official OTLP types) as a collector does and keeps the
// spans with their resource.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []receivedSpan
	srv   *httptest.Server
}

type receivedSpan struct {
	resource map[string]string
	span     *tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Method != "POST" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: %s %s (%s): want POST /v1/traces, application/x-protobuf", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("OTLP receiver: the export does not decode: %v", err)
			http.Error(w, "bad protobuf", http.StatusBadRequest)
			return
		}
		rc.add(&req)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *otlpReceiver) add(req *coltracepb.ExportTraceServiceRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				rc.spans = append(rc.spans, receivedSpan{resource: res, span: sp})
			}
		}
	}
}

// grpcReceiver is an OTLP/gRPC trace receiver: the official service
// definition, served by grpc-go as a collector serves it.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	rc *otlpReceiver
}

func (g grpcReceiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.rc.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// newGRPCReceiver serves an OTLP/gRPC receiver on a free port and returns
// its address as http://host:port.
func newGRPCReceiver(t *testing.T, rc *otlpReceiver) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(s, grpcReceiver{rc: rc})
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return "http://" + l.Addr().String()
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		}
	}
	return m
}

func (rc *otlpReceiver) byRequestID(id string) []receivedSpan {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []receivedSpan
	for _, s := range rc.spans {
		if attrs(s.span.Attributes)["charter.request_id"] == id {
			out = append(out, s)
		}
	}
	return out
}

// serveInProcess runs `charter serve` with args in this process until the
// returned stop is called, and returns its URL.
func serveInProcess(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	go func() {
		env := &Env{Server: "http://127.0.0.1:1", Key: filepath.Join(t.TempDir(), "unused"), Stdin: strings.NewReader(""), Stdout: pw, Stderr: &errb}
		code := runArgs(ctx, env, append([]string{"serve", "--data", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0", "--scrub-interval", "0", "--settle-interval", "0"}, args...))
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "charter serving") {
		cancel()
		<-done
		t.Fatalf("serve: %q %v\n%s", line, err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	return strings.TrimSpace(line[strings.LastIndex(line, " ")+1:]), func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	}
}

// TestOTLPTraces: with --otlp-endpoint, again with only the standard
// OTEL_EXPORTER_OTLP_ENDPOINT variable, and over gRPC
// (OTEL_EXPORTER_OTLP_PROTOCOL=grpc), `charter serve` sends one server
// span per request to a real OTLP receiver: named by the route (not
// the path), with the status, the request id the client got back, and the
// caller's trace (W3C traceparent) as its parent. Spans still buffered at
// shutdown are sent before serve exits.
func TestOTLPTraces(t *testing.T) {
	for _, how := range []string{"flag", "env", "grpc"} {
		t.Run(how, func(t *testing.T) {
			rc := newOTLPReceiver(t)
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "CHARTER_OTLP_ENDPOINT"} {
				t.Setenv(k, "")
			}
			var args []string
			switch how {
			case "flag":
				args = []string{"--otlp-endpoint", rc.srv.URL}
			case "env":
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rc.srv.URL)
			case "grpc":
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
				args = []string{"--otlp-endpoint", newGRPCReceiver(t, rc)}
			}
			url, stop := serveInProcess(t, args...)
			traceID, parentID := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			id := "otel-" + how
			req, _ := http.NewRequest("GET", url+"/v1/assets/not-an-id", nil)
			req.Header.Set("X-Request-Id", id)
			req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				stop()
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get("X-Request-Id"); got != id {
				t.Errorf("X-Request-Id = %q, want %q", got, id)
			}
			stop() // flushes the spans still buffered
			spans := rc.byRequestID(id)
			if len(spans) != 1 {
				t.Fatalf("%d spans carry request id %s, want 1 (of %d received)", len(spans), id, len(rc.spans))
			}
			s := spans[0]
			a := attrs(s.span.Attributes)
			if s.span.Name != "GET /v1/assets/{id}" || a["http.route"] != "GET /v1/assets/{id}" {
				t.Errorf("span name %q, http.route %q: want the route pattern GET /v1/assets/{id}", s.span.Name, a["http.route"])
			}
			if a["http.response.status_code"] != strconv.Itoa(resp.StatusCode) || resp.StatusCode < 400 {
				t.Errorf("http.response.status_code = %q, the client got %d (a malformed id is refused)", a["http.response.status_code"], resp.StatusCode)
			}
			if a["http.request.method"] != "GET" || a["url.path"] != "/v1/assets/not-an-id" {
				t.Errorf("method %q path %q", a["http.request.method"], a["url.path"])
			}
			if s.span.Kind != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("span kind %v, want server", s.span.Kind)
			}
			if hex.EncodeToString(s.span.TraceId) != traceID || hex.EncodeToString(s.span.ParentSpanId) != parentID {
				t.Errorf("trace %x parent %x: want the caller's trace %s and span %s", s.span.TraceId, s.span.ParentSpanId, traceID, parentID)
			}
			if s.resource["service.name"] != "charter" || s.resource["service.version"] == "" {
				t.Errorf("resource %v: want service.name charter and a service.version", s.resource)
			}
		})
	}
}

// TestTracingOffUnlessConfigured: no flag and no OTEL_ variable, no
// tracing; the standard switches turn it off; gRPC is chosen by the
// standard protocol variable; what charter cannot send (http/json, another
// exporter, a bad URL) is refused with a hint rather than silently not
// traced.
func TestTracingOffUnlessConfigured(t *testing.T) {
	for _, c := range []struct {
		flag     string
		env      map[string]string
		endpoint string
		on, grpc bool
		err      string
	}{
		{on: false},
		{env: map[string]string{"OTEL_SERVICE_NAME": "x"}, on: false},
		{flag: "http://collector:4318", endpoint: "http://collector:4318/v1/traces", on: true},
		{flag: "https://collector.example/otlp/", endpoint: "https://collector.example/otlp/v1/traces", on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, on: true},
		{flag: "http://c:4318", env: map[string]string{"OTEL_SDK_DISABLED": "true"}, on: false},
		{flag: "http://c:4318", env: map[string]string{"OTEL_TRACES_EXPORTER": "none"}, on: false},
		{flag: "http://c:4318", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTLP only"},
		{flag: "http://c:4317", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, endpoint: "http://c:4317", on: true, grpc: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, on: true, grpc: true},
		{flag: "http://c:4318", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: "http/protobuf (the default) or grpc"},
		{flag: "collector:4318", err: "not an http(s) URL"},
	} {
		endpoint, grpc, on, err := tracingEndpoint(c.flag, func(k string) string { return c.env[k] })
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "hint:") {
				t.Errorf("flag %q env %v: err %v, want %q with a hint", c.flag, c.env, err, c.err)
			}
			continue
		}
		if err != nil || on != c.on || grpc != c.grpc || endpoint != c.endpoint {
			t.Errorf("flag %q env %v: %q on %v grpc %v %v, want %q %v %v", c.flag, c.env, endpoint, on, grpc, err, c.endpoint, c.on, c.grpc)
		}
	}
}

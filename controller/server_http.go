package controller

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handler is the controller's HTTP interface: liveness, readiness and
// Prometheus metrics.
func (s *Server) handler(store *Store, rec *Reconciler, metrics *Metrics, publicURL string) (http.Handler, error) {
	_, _ = store, publicURL
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !rec.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: catalog loading or NATS disconnected\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	return mux, nil
}

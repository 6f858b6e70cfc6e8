package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves Prometheus metrics at /metrics on their own listener
// (MCPWARDEN_METRICS_ADDR), never on the API's: they describe the whole server, every
// organization's traffic included, so they are for operators' networks only.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil {
			log.Error("metrics listener", "addr", addr, "error", err)
		}
	}()
	log.Info("serving metrics", "addr", addr, "path", "/metrics")
}

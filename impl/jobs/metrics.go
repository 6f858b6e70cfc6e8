package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpwarden/mcpwarden/db"
)

// scrapeTimeout bounds the queue query of one scrape: a slow database makes the series go
// missing for that scrape rather than hold the scraper.
const scrapeTimeout = 2 * time.Second

// QueueCollector reports the email outbox's and the webhook queue's depth and the age of their
// oldest waiting row, read from the database at each scrape.
func QueueCollector(store *db.Storage, log *slog.Logger) prometheus.Collector {
	return queueCollector{store: store, log: log}
}

var (
	queueDepth = prometheus.NewDesc("mcpwarden_notification_queue_depth",
		"Notifications waiting to be sent, by queue: email (unsent digest rows) or webhook (pending deliveries).",
		[]string{"queue"}, nil)
	queueAge = prometheus.NewDesc("mcpwarden_notification_queue_oldest_seconds",
		"Age of the oldest notification waiting in the queue; 0 when none waits.",
		[]string{"queue"}, nil)
	queueUp = prometheus.NewDesc("mcpwarden_notification_queue_scrape_success",
		"1 when the queues could be read at this scrape, 0 when the database did not answer in time.",
		nil, nil)
)

type queueCollector struct {
	store *db.Storage
	log   *slog.Logger
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepth
	ch <- queueAge
	ch <- queueUp
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	q, err := c.store.NotificationQueues(ctx)
	if err != nil {
		c.log.Warn("metrics: read the notification queues", slog.Any("error", err))
		ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(q.EmailPending), "email")
	ch <- prometheus.MustNewConstMetric(queueAge, prometheus.GaugeValue, q.EmailOldestSeconds, "email")
	ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(q.WebhookPending), "webhook")
	ch <- prometheus.MustNewConstMetric(queueAge, prometheus.GaugeValue, q.WebhookOldest, "webhook")
}

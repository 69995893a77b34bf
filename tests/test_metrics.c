/* test_metrics.c: the numbers behind /metrics (daemon/metrics.c) and their
 * text: counters from the stats, rates kept between ticks, histograms
 * cumulative with +Inf equal to the count, label values escaped, streams a
 * reload removed gone from the scrape.  promtool reads the real endpoint
 * in tests/integration/test_metrics.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics.h"

static snk_event stats_of(snk_stream_stats *st, int n, double seconds)
{
    snk_event e = { .kind = SNK_STATS, .time_us = 1 };
    e.stats.seconds = seconds;
    e.stats.n = n;
    e.stats.streams = st;
    e.stats.subscribers = 3;
    e.stats.drops = (snk_drops){ 4, 5, 6 };
    return e;
}

/* The labels of the series below: the model name holds a quote and a
 * backslash, escaped as the exposition format says. */
#define MODEL "model=\"odd\\\"name\\\\.onnx\""
#define YARD "{stream=\"yard\",region=\"\"," MODEL
#define DOOR "{stream=\"door\",region=\"\"," MODEL

static void has(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(text, want))
        fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_counters_rates_and_labels(void **state)
{
    (void)state;
    met *m = met_new();
    size_t len;
    assert_non_null(m);
    met_info(m, "0.1", "/models/odd\"name\\.onnx", "int8", "avx2");
    snk_stream_stats st[2] = {
        { .stream = "yard", .state = "up", .decoded = 300, .sampled_out = 10, .skipped = 2,
          .classified = 290, .published = 145, .reconnects = 1, .decode_skipped = 5, .packets = 308,
          .decode_errors = 3, .ts_discontinuities = 1, .decoded_fps = 29.5, .classified_fps = 28.5,
          .p50_ms = 1, .p99_ms = 2 },
        { .stream = "door", .state = "down", .decoded = 7, .classified = 7, .published = 7,
          .reconnects = 3, .packets = 7, .p50_ms = -1, .p99_ms = -1 },
    };
    snk_event e = stats_of(st, 2, 10);
    e.stats.infer.bucket[0] = 2;
    e.stats.infer.bucket[3] = 1;
    e.stats.infer.sum_us = 3000;
    met_stats(m, &e);
    /* a sample between ticks: new counters, the last tick's rates */
    st[0].decoded = 330;
    st[0].decoded_fps = 0;
    e = stats_of(st, 2, 0);
    e.stats.infer.bucket[0] = 2;
    e.stats.infer.bucket[3] = 1;
    met_stats(m, &e);
    met_latency(m, "yard", NULL, NULL, 700);
    met_latency(m, "yard", NULL, NULL, 3000);
    met_latency(m, "yard", NULL, NULL, 20000000);
    char *t = met_render(m, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    has(t, "lcnetd_build_info{version=\"0.1\"," MODEL ",precision=\"int8\","
           "isa=\"avx2\"} 1");
    has(t, "lcnetd_frames_decoded_total" YARD "} 330");
    has(t, "lcnetd_frames_classified_total" YARD "} 290");
    has(t, "lcnetd_packets_decode_skipped_total" YARD "} 5");
    has(t, "lcnetd_packets_total" YARD "} 308");
    has(t, "lcnetd_packets_decode_errors_total" YARD "} 3");
    has(t, "lcnetd_timestamp_discontinuities_total" YARD "} 1");
    has(t, "lcnetd_stream_decoded_fps" YARD "} 29.500");
    has(t, "lcnetd_stream_up" YARD "} 1");
    has(t, "lcnetd_stream_up" DOOR "} 0");
    has(t, "lcnetd_stream_reconnects_total" DOOR "} 3");
    /* 0.7 ms, 3 ms, 20 s: cumulative buckets, +Inf is every one */
    has(t, "lcnetd_event_latency_seconds_bucket" YARD ",le=\"0.0005\"} 0");
    has(t, "lcnetd_event_latency_seconds_bucket" YARD ",le=\"0.001\"} 1");
    has(t, "lcnetd_event_latency_seconds_bucket" YARD ",le=\"0.005\"} 2");
    has(t, "lcnetd_event_latency_seconds_bucket" YARD ",le=\"10\"} 2");
    has(t, "lcnetd_event_latency_seconds_bucket" YARD ",le=\"+Inf\"} 3");
    has(t, "lcnetd_event_latency_seconds_count" YARD "} 3");
    has(t, "lcnetd_event_latency_seconds_sum" YARD "} 20.003700");
    /* a stream without a label yet still has its series, at zero */
    has(t, "lcnetd_event_latency_seconds_count" DOOR "} 0");
    has(t, "lcnetd_inference_seconds_count{" MODEL "} 3");
    has(t, "lcnetd_subscribers 3");
    has(t, "lcnetd_events_dropped_total 4");
    has(t, "lcnetd_socket_dropped_total 5");
    assert_null(strstr(t, "lcnetd_mqtt_"));       /* no [mqtt]: no MQTT series */
    has(t, "# TYPE lcnetd_frames_decoded_total counter");
    has(t, "# TYPE lcnetd_event_latency_seconds histogram");
    free(t);

    /* door removed by a reload: its series go, yard's stay */
    e = stats_of(st, 1, 0);
    e.stats.mqtt_on = 1;
    e.stats.mqtt_connected = 1;
    e.stats.mqtt_sent = 9;
    met_stats(m, &e);
    t = met_render(m, &len);
    assert_null(strstr(t, "stream=\"door\""));
    has(t, "lcnetd_event_latency_seconds_count" YARD "} 3");
    has(t, "lcnetd_mqtt_connected 1");
    has(t, "lcnetd_mqtt_sent_total 9");
    has(t, "lcnetd_mqtt_dropped_total 6");
    free(t);
    met_free(m);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_counters_rates_and_labels),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}

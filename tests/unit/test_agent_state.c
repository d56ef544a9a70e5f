// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's model and journal (user/agent/state.c, journal.c), without the
 * kernel: validation and its messages, all-or-nothing apply, and a journal
 * replay that rebuilds the same state, drops a torn last record and keeps
 * backend slots where they were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>

#include "check.h"
#include "../../user/agent/agent.h"

static int run(struct sl_state *st, const char *req_json, struct sl_err *e, json_t **res)
{
	json_error_t jerr;
	json_t *req = json_loads(req_json, 0, &jerr), *r = NULL;
	int err;

	assert_non_null(req);
	err = sl_state_exec(st, req, 1000.0, &r, e);
	json_decref(req);
	if (res)
		*res = r;
	else
		json_decref(r);
	return err;
}

/* Run and expect success. */
static void ok(struct sl_state *st, const char *req)
{
	struct sl_err e;

	if (run(st, req, &e, NULL))
		fail_msg("%s: refused: %s", req, e.msg);
}

/* Run and expect refusal with @exit_code and a message containing @part. */
static void refused(struct sl_state *st, const char *req, int exit_code, const char *part)
{
	struct sl_err e;

	if (!run(st, req, &e, NULL))
		fail_msg("%s: accepted, expected refusal", req);
	ASSERT_EQ(e.exit, exit_code, "exit code for %s (%s)", req, e.msg);
	ASSERT_TRUE(strstr(e.msg, part), "message '%s' should contain '%s'", e.msg, part);
}

static char *config_text(const struct sl_state *st)
{
	json_t *c = sl_state_config(st);
	char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(c);
	return s;
}

static void lab(struct sl_state *st)
{
	sl_state_init(st);
	ok(st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"web\",\"address\":\"198.19.0.10\",\"port\":80}}");
	ok(st, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.2\",\"port\":8080,\"weight\":3}}");
	ok(st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"v6\",\"address\":\"2001:db8:f::10\",\"port\":443,\"strategy\":\"maglev\",\"forward\":\"dsr\"}}");
	ok(st, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"v6\",\"address\":\"2001:db8:1::2\"}}");
}

static void vip_and_backend_refusals_name_the_object_and_fix(void **unused)
{
	struct sl_state st;
	char *before, *after;

	(void)unused;
	lab(&st);
	before = config_text(&st);
	refused(&st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"web\",\"address\":\"198.19.0.11\",\"port\":80}}", 1, "vip web: already exists");
	refused(&st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"web2\",\"address\":\"198.19.0.10\",\"port\":80}}", 1, "198.19.0.10:80/tcp is already used by vip web");
	refused(&st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"bad name\",\"address\":\"198.19.0.12\",\"port\":80}}", 2, "name");
	refused(&st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"x\",\"address\":\"198.19.0.300\",\"port\":80}}", 2, "is not an IPv4 or IPv6 address");
	refused(&st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"x\",\"address\":\"198.19.0.3\"}}", 2, "port: missing");
	refused(&st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"x\",\"address\":\"198.19.0.3\",\"port\":80,\"strategy\":\"fastest\"}}", 2, "rr|wrr|random|leastconn|maglev");
	refused(&st, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"x\",\"address\":\"198.19.0.3\",\"port\":80,\"colour\":1}}", 2, "colour: unknown field");
	refused(&st, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.2\",\"port\":8080}}", 1, "already exists (use 'backend set'");
	refused(&st, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"nope\",\"address\":\"198.18.1.2\"}}", 1, "vip nope: no such VIP");
	refused(&st, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"web\",\"address\":\"2001:db8::5\"}}", 1, "is IPv6 but the VIP is IPv4");
	refused(&st, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.3\",\"weight\":65536}}", 2, "weight: must be 0..65535");
	refused(&st, "{\"cmd\":\"backend.set\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.9\",\"weight\":2}}", 1, "no backend 198.18.1.9");
	refused(&st, "{\"cmd\":\"limit.set\",\"args\":{\"vip\":\"web\",\"conn_rate\":10}}", 2, "conn_burst: must be at least 1");
	refused(&st, "{\"cmd\":\"detach\",\"args\":{\"iface\":\"sl-nope0\"}}", 1, "not attached");
	refused(&st, "{\"cmd\":\"fly\"}", 2, "unknown");
	after = config_text(&st);
	ASSERT_TRUE(!strcmp(before, after), "refusals changed nothing:\n%s\n%s", before, after);
	free(before);
	free(after);
	sl_state_free(&st);
}

static void apply_is_validated_whole_with_json_paths(void **unused)
{
	struct sl_state st;
	char *before, *after;

	(void)unused;
	lab(&st);
	st.check_ifaces = 1;
	before = config_text(&st);
	/* The first VIP is fine; the error is in the second: nothing may change. */
	refused(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"a\",\"address\":\"198.19.0.1\",\"port\":80},{\"name\":\"b\",\"address\":\"198.19.0.2\",\"port\":80,\"backends\":[{\"address\":\"198.18.1.3\",\"weight\":70000}]}]}}}", 1, "vips[1].backends[0].weight: must be 0..65535");
	refused(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"a\",\"address\":\"198.19.0.1\",\"port\":80},{\"name\":\"a\",\"address\":\"198.19.0.2\",\"port\":80}]}}}", 1, "vips[1]: vip a: already exists");
	refused(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"a\",\"address\":\"198.19.0.1\",\"port\":80,\"backends\":[{\"address\":\"198.18.1.3\"},{\"address\":\"198.18.1.3\"}]}]}}}", 1, "vips[0].backends[1]: vip a: backend 198.18.1.3 already exists");
	refused(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"interfaces\":[{\"name\":\"sl-nope0\"}]}}}", 1, "interfaces[0]: interface sl-nope0: does not exist");
	refused(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"a\",\"address\":\"198.19.0.1\",\"port\":80,\"limit\":{\"per\":\"street\"}}]}}}", 1, "vips[0].limit.per");
	after = config_text(&st);
	ASSERT_TRUE(!strcmp(before, after), "a refused apply changed nothing");
	free(before);
	free(after);
	sl_state_free(&st);
}

static void apply_replaces_the_configuration_by_difference(void **unused)
{
	struct sl_state st;
	struct sl_err e;
	json_t *res = NULL;
	char *after;

	(void)unused;
	lab(&st);
	/* web: weight 3 -> 5, one backend more; v6 gone; new VIP api. */
	if (run(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"web\",\"address\":\"198.19.0.10\",\"port\":80,\"backends\":[{\"address\":\"198.18.1.2\",\"port\":8080,\"weight\":5},{\"address\":\"198.18.1.3\",\"port\":8080}]},{\"name\":\"api\",\"address\":\"198.19.0.11\",\"port\":443,\"protocol\":\"udp\"}]}}}", &e, &res))
		fail_msg("apply refused: %s", e.msg);
	ASSERT_EQ(json_integer_value(json_object_get(res, "changes")), 4, "changes made");
	json_decref(res);
	after = config_text(&st);
	ASSERT_TRUE(strstr(after, "\"weight\":5") && strstr(after, "198.18.1.3") &&
			    strstr(after, "\"api\"") && !strstr(after, "\"v6\""),
		    "resulting configuration: %s", after);
	free(after);
	sl_state_free(&st);
}

static void limit_set_keeps_fields_not_named(void **unused)
{
	struct sl_state st;
	char *c;

	(void)unused;
	lab(&st);
	ok(&st, "{\"cmd\":\"limit.set\",\"args\":{\"vip\":\"web\",\"conn_rate\":10,\"conn_burst\":20}}");
	ok(&st, "{\"cmd\":\"limit.set\",\"args\":{\"vip\":\"web\",\"pkt_rate\":1000,\"pkt_burst\":100,\"per\":\"prefix\"}}");
	c = config_text(&st);
	ASSERT_TRUE(strstr(c, "\"conn_burst\":20,\"conn_rate\":10,\"per\":\"prefix\",\"pkt_burst\":100,\"pkt_rate\":1000"),
		    "limits: %s", c);
	free(c);
	ok(&st, "{\"cmd\":\"limit.clear\",\"args\":{\"vip\":\"web\"}}");
	c = config_text(&st);
	ASSERT_TRUE(strstr(c, "\"conn_burst\":0,\"conn_rate\":0,\"per\":\"addr\""), "cleared: %s", c);
	free(c);
	sl_state_free(&st);
}

static char tmpdir[64];

static struct sl_journal *journal_in_tmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl-unit-journal-%d", getpid());
	return sl_journal_open(tmpdir);
}

static void rm_tmp(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/journal", tmpdir);
	unlink(p);
	rmdir(tmpdir);
}

static void journal_replay_rebuilds_state_and_slots(void **unused)
{
	struct sl_state a, b;
	char *ca, *cb;
	__u32 i;

	(void)unused;
	sl_state_init(&a);
	a.journal = journal_in_tmp();
	assert_non_null(a.journal);
	ok(&a, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"web\",\"address\":\"198.19.0.10\",\"port\":80}}");
	for (i = 2; i < 8; i++) {
		char req[160];

		snprintf(req, sizeof(req), "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.%u\",\"weight\":%u}}", i, i);
		ok(&a, req);
	}
	ok(&a, "{\"cmd\":\"backend.del\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.3\"}}");
	ok(&a, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.9\"}}");
	/* The slot .3 freed is not reused at once: its old flows still hold it. */
	ASSERT_EQ(a.vips[0]->be[a.vips[0]->n_be - 1].slot, 6, "slot of the backend added last");
	refused(&a, "{\"cmd\":\"backend.add\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.9\",\"port\":80}}", 1, "already exists");
	ok(&a, "{\"cmd\":\"backend.drain\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.4\",\"timeout\":60}}");
	refused(&a, "{\"cmd\":\"vip.del\",\"args\":{\"name\":\"nope\"}}", 1, "no such VIP");
	ASSERT_EQ(sl_journal_offset(a.journal), 10, "records: refusals and reads are not journaled");
	sl_journal_close(a.journal);

	sl_state_init(&b);
	b.journal = journal_in_tmp();
	ASSERT_EQ(sl_journal_replay(b.journal, &b), 10, "records replayed");
	ca = config_text(&a);
	cb = config_text(&b);
	ASSERT_TRUE(!strcmp(ca, cb), "replayed state:\n%s\nexpected:\n%s", cb, ca);
	for (i = 0; i < a.vips[0]->n_be; i++)
		ASSERT_EQ(b.vips[0]->be[i].slot, a.vips[0]->be[i].slot, "slot of backend %u", i);
	ASSERT_TRUE(b.vips[0]->be[1].draining, "drain survives replay");
	ASSERT_TRUE(b.vips[0]->be[1].drain_deadline == a.vips[0]->be[1].drain_deadline,
		    "drain deadline from the record's time");
	free(ca);
	free(cb);
	sl_journal_close(b.journal);
	sl_state_free(&a);
	sl_state_free(&b);
	rm_tmp();
}

static void journal_drops_a_torn_last_record(void **unused)
{
	struct sl_state a, b;
	char path[128];
	int fd;

	(void)unused;
	sl_state_init(&a);
	a.journal = journal_in_tmp();
	ok(&a, "{\"cmd\":\"vip.add\",\"args\":{\"name\":\"web\",\"address\":\"198.19.0.10\",\"port\":80}}");
	sl_journal_close(a.journal);
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_true(write(fd, "{\"offset\":2,\"ts\":\"2026-", 23) == 23); /* a crash mid-write */
	close(fd);

	sl_state_init(&b);
	b.journal = journal_in_tmp();
	ASSERT_EQ(sl_journal_replay(b.journal, &b), 1, "good records replayed");
	ASSERT_EQ(b.n_vips, 1, "VIPs");
	/* The torn bytes are cut off, so the next record starts on a fresh line. */
	ok(&b, "{\"cmd\":\"vip.del\",\"args\":{\"name\":\"web\"}}");
	sl_journal_close(b.journal);
	sl_state_free(&b);
	sl_state_init(&b);
	b.journal = journal_in_tmp();
	ASSERT_EQ(sl_journal_replay(b.journal, &b), 2, "records after the repair");
	ASSERT_EQ(b.n_vips, 0, "VIPs after replaying the delete");
	sl_journal_close(b.journal);
	sl_state_free(&a);
	sl_state_free(&b);
	rm_tmp();
}


/* health.set merges into the current conf; a backend override is that backend's only. */
static void health_set_merges_and_overrides_per_backend(void **unused)
{
	struct sl_state st;
	json_t *res;
	char *c;

	(void)unused;
	lab(&st);
	ok(&st, "{\"cmd\":\"health.set\",\"args\":{\"vip\":\"web\",\"type\":\"http\",\"path\":\"/healthz\",\"interval_ms\":2000}}");
	ok(&st, "{\"cmd\":\"health.set\",\"args\":{\"vip\":\"web\",\"fall\":4}}");
	ok(&st, "{\"cmd\":\"health.set\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.2\",\"port\":8080,\"rise\":5}}");
	c = config_text(&st);
	ASSERT_TRUE(strstr(c, "\"health\":{\"expect_status\":200,\"fall\":4,\"interval_ms\":2000,\"path\":\"/healthz\",\"rise\":2,\"timeout_ms\":500,\"type\":\"http\"},\"limit\""),
		    "the VIP's merged conf: %s", c);
	ASSERT_TRUE(strstr(c, "\"health\":{\"expect_status\":200,\"fall\":4,\"interval_ms\":2000,\"path\":\"/healthz\",\"rise\":5,\"timeout_ms\":500,\"type\":\"http\"},\"port\":8080"),
		    "the backend's override over the VIP's: %s", c);
	free(c);
	assert_int_equal(run(&st, "{\"cmd\":\"health.show\",\"args\":{\"vip\":\"v6\"}}", &(struct sl_err){ 0 }, &res), 0);
	ASSERT_TRUE(!strcmp(json_string_value(json_object_get(json_array_get(res, 0), "state")), "unchecked"),
		    "a VIP without checks: unchecked");
	json_decref(res);
	refused(&st, "{\"cmd\":\"health.set\",\"args\":{\"vip\":\"web\",\"timeout_ms\":3000}}", 2, "vip web: health");
	ok(&st, "{\"cmd\":\"health.clear\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.2\",\"port\":8080}}");
	refused(&st, "{\"cmd\":\"health.clear\",\"args\":{\"vip\":\"web\",\"address\":\"198.18.1.2\",\"port\":8080}}", 1, "has no health checks of its own");
	ok(&st, "{\"cmd\":\"health.clear\",\"args\":{\"vip\":\"web\"}}");
	refused(&st, "{\"cmd\":\"health.clear\",\"args\":{\"vip\":\"web\"}}", 1, "vip web: has no health checks");
	c = config_text(&st);
	ASSERT_TRUE(!strstr(c, "\"health\""), "no health left: %s", c);
	free(c);
	sl_state_free(&st);
}

/* "health" and "circuit" in a configuration: validated with their path, kept, shown. */
static void health_and_circuit_in_a_configuration(void **unused)
{
	struct sl_state st;
	char *c;

	(void)unused;
	lab(&st);
	refused(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"a\",\"address\":\"198.19.0.20\",\"port\":80,\"health\":{\"interval_ms\":100,\"timeout_ms\":100}}]}}}",
		1, "vips[0].health");
	refused(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"a\",\"address\":\"198.19.0.20\",\"port\":80,\"backends\":[{\"address\":\"198.18.1.2\",\"circuit\":{\"open_ms\":0}}]}]}}}",
		1, "vips[0].backends[0].circuit.open_ms");
	ok(&st, "{\"cmd\":\"apply\",\"args\":{\"config\":{\"vips\":[{\"name\":\"a\",\"address\":\"198.19.0.20\",\"port\":80,\"health\":{\"type\":\"tcp\"},\"circuit\":{\"failure_threshold\":2},\"backends\":[{\"address\":\"198.18.1.2\",\"circuit\":{\"open_ms\":500}}]}]}}}");
	c = config_text(&st);
	ASSERT_TRUE(strstr(c, "\"circuit\":{\"call_timeout_ms\":5000,\"failure_threshold\":2,\"half_open_max\":1,\"open_ms\":500,\"success_threshold\":3}"),
		    "the backend's circuit over the VIP's: %s", c);
	ASSERT_TRUE(strstr(c, "\"health\":{\"fall\":3,\"interval_ms\":1000,\"rise\":2,\"timeout_ms\":500,\"type\":\"tcp\"}"),
		    "the VIP's health: %s", c);
	free(c);
	sl_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vip_and_backend_refusals_name_the_object_and_fix),
		cmocka_unit_test(apply_is_validated_whole_with_json_paths),
		cmocka_unit_test(apply_replaces_the_configuration_by_difference),
		cmocka_unit_test(limit_set_keeps_fields_not_named),
		cmocka_unit_test(journal_replay_rebuilds_state_and_slots),
		cmocka_unit_test(journal_drops_a_torn_last_record),
		cmocka_unit_test(health_set_merges_and_overrides_per_backend),
		cmocka_unit_test(health_and_circuit_in_a_configuration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

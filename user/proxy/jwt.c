/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * JWT bearer verification (RFC 7519, JWS compact serialization of RFC 7515,
 * algorithms of RFC 7518, keys of RFC 7517) through OpenSSL 3 EVP.
 *
 * Concurrency: the key set is an immutable, refcounted array. Workers take a
 * reference under a read lock and verify without any lock held; a reload builds
 * the new set outside every lock, swaps the pointer under the write lock, and
 * the old set is freed by whoever drops its last reference. Reloads themselves
 * are serialized by a mutex taken with trylock, so a worker never waits for a
 * file read. The verified-token cache is a direct-mapped table under one mutex
 * held only for a memcmp and a copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "jwt.h"
#include "../lib/log.h"

#define JWT_TOKEN_MAX (16 * 1024)     /* longer tokens are refused as malformed */
#define JWKS_FILE_MAX (1024 * 1024)   /* a bigger JWKS file is refused */
#define JWT_SUB_CACHE_MAX 1024	      /* longer subjects are verified but not cached */
#define JWT_CHECK_MS 1000	      /* JWKS file change checks at most this often */
#define JWT_RSA_MIN_BITS 2048
#define JWT_HMAC_MIN_BYTES 32
#define JWT_CACHE_SIZE_MAX (1u << 24)

enum kty { KTY_OCT, KTY_RSA, KTY_EC };

enum alg { ALG_HS256, ALG_HS384, ALG_HS512, ALG_RS256, ALG_RS384, ALG_RS512, ALG_ES256, ALG_ES384,
	   ALG__N };

static const struct {
	const char *name;
	enum kty kty;
	unsigned int hash_len; /* bytes of the digest; also the HMAC key minimum */
	unsigned int ec_len;   /* ES: bytes of r and of s (the curve's field size) */
} alg_info[ALG__N] = {
	[ALG_HS256] = { "HS256", KTY_OCT, 32, 0 }, [ALG_HS384] = { "HS384", KTY_OCT, 48, 0 },
	[ALG_HS512] = { "HS512", KTY_OCT, 64, 0 }, [ALG_RS256] = { "RS256", KTY_RSA, 32, 0 },
	[ALG_RS384] = { "RS384", KTY_RSA, 48, 0 }, [ALG_RS512] = { "RS512", KTY_RSA, 64, 0 },
	[ALG_ES256] = { "ES256", KTY_EC, 32, 32 }, [ALG_ES384] = { "ES384", KTY_EC, 48, 48 },
};

static const EVP_MD *alg_md(enum alg a)
{
	switch (alg_info[a].hash_len) {
	case 32:
		return EVP_sha256();
	case 48:
		return EVP_sha384();
	default:
		return EVP_sha512();
	}
}

/* Exact, case-sensitive algorithm name (RFC 7515 4.1.1); -1 when unknown. */
static int alg_from_name(const char *s)
{
	int i;

	for (i = 0; i < ALG__N; i++)
		if (!strcmp(s, alg_info[i].name))
			return i;
	return -1;
}

struct jwt_key {
	char *kid;	 /* NULL: the key has none */
	enum kty kty;
	unsigned int ec_len; /* EC: 32 for P-256, 48 for P-384 */
	int alg;	     /* -1: any algorithm of its type; else only this one ("alg" of the JWK) */
	EVP_PKEY *pkey;	     /* RSA and EC */
	unsigned char *secret; /* oct */
	size_t secret_len;
};

struct keyset {
	int refs;
	size_t n;
	struct jwt_key keys[];
};

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct cache_entry {
	unsigned char hash[SHA256_DIGEST_LENGTH];
	time_t until; /* valid while now < until; 0: empty */
	uint64_t gen; /* key set generation it was verified under */
	char *sub;
};

struct sl_jwt {
	/* configuration, immutable after sl_jwt_from_json() */
	char *jwks_path;
	char *pem_path;
	char *pem_kid;
	char *issuer;
	char **audience;
	size_t n_audience;
	char **required;
	size_t n_required;
	char *forward;
	unsigned int algs; /* bit per enum alg */
	long long leeway_s;
	long long cache_ttl_s;
	size_t cache_size;
	uint64_t reload_interval_ms;
	EVP_PKEY *pem_key; /* the "pem" key, shared by every key set */
	int pem_kty;
	unsigned int pem_ec_len;

	/* the current key set */
	pthread_rwlock_t ks_lock;
	struct keyset *ks;

	/* JWKS reloads */
	pthread_mutex_t reload_lock; /* held (trylock) while one thread reloads */
	struct file_id file_id;	     /* of the last file read, good or bad */
	uint64_t last_check_ms;	     /* atomic: last change check */
	uint64_t last_kid_ms;	     /* atomic: last reload for an unknown kid */
	uint64_t ks_gen;	     /* atomic: bumped by every key set installed; a cached
				      * token verified under an older set is a miss, so
				      * removing a key revokes its cached tokens at once */
	uint64_t (*clock_ms)(void);

	/* verified-token cache */
	pthread_mutex_t cache_lock;
	struct cache_entry *cache;

	/* stats, atomic: SL_JWT_CELLS cells (J_*), our own or bound ones */
	uint64_t st_own[SL_JWT_CELLS];
	uint64_t *st;
};

enum { J_VERIFIED, J_HITS, J_MISSES, J_RELOADS, J_RELOAD_ERRORS, J_FAILED };

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *sl_jwt_result_name(enum sl_jwt_result r)
{
	static const char *const names[SL_JWT__MAX] = {
		[SL_JWT_OK] = "ok",
		[SL_JWT_MISSING] = "missing",
		[SL_JWT_MALFORMED] = "malformed",
		[SL_JWT_BAD_ALG] = "bad_alg",
		[SL_JWT_UNKNOWN_KID] = "unknown_kid",
		[SL_JWT_BAD_SIGNATURE] = "bad_signature",
		[SL_JWT_EXPIRED] = "expired",
		[SL_JWT_NOT_YET_VALID] = "not_yet_valid",
		[SL_JWT_BAD_ISSUER] = "bad_issuer",
		[SL_JWT_BAD_AUDIENCE] = "bad_audience",
		[SL_JWT_MISSING_CLAIM] = "missing_claim",
	};

	if ((unsigned int)r >= SL_JWT__MAX)
		return "unknown";
	return names[r];
}

/* ---- base64url without padding (RFC 7515 2, appendix C) ---- */

static int b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decode @len characters into a new buffer (*out, *outlen; NUL-terminated for
 * the JSON parser). Refuses padding, characters outside the alphabet, a length
 * of 4k+1 and non-zero trailing bits (a second spelling of the same bytes).
 */
static int b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -EINVAL;
	buf = malloc(len / 4 * 3 + 3);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		int v = b64url_val((unsigned char)in[i]);

		if (v < 0) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1)) {
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- keys ---- */

static void key_clear(struct jwt_key *k)
{
	free(k->kid);
	EVP_PKEY_free(k->pkey);
	if (k->secret)
		OPENSSL_clear_free(k->secret, k->secret_len);
}

static void keyset_put(struct keyset *ks)
{
	size_t i;

	if (!ks || __atomic_sub_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < ks->n; i++)
		key_clear(&ks->keys[i]);
	free(ks);
}

static struct keyset *keyset_get(struct sl_jwt *j)
{
	struct keyset *ks;

	pthread_rwlock_rdlock(&j->ks_lock);
	ks = j->ks;
	__atomic_add_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL);
	pthread_rwlock_unlock(&j->ks_lock);
	return ks;
}

/* Decode a base64url JWK member into a BIGNUM or raw bytes; 0 or -EINVAL. */
static int jwk_bytes(const json_t *jwk, const char *name, unsigned char **out, size_t *len)
{
	const json_t *v = json_object_get(jwk, name);

	if (!json_is_string(v) || !json_string_length(v))
		return -EINVAL;
	return b64url_decode(json_string_value(v), json_string_length(v), out, len);
}

/* Check a public key OpenSSL built or read: on-curve point, sane RSA numbers. */
static int pkey_public_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -EINVAL;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY *pkey = NULL;

	if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1)
		if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
			pkey = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	if (pkey && pkey_public_ok(pkey)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

static int jwk_rsa(const json_t *jwk, struct jwt_key *k, char *err, size_t errlen)
{
	unsigned char *n = NULL, *e = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	size_t n_len, e_len;
	int ret = -EINVAL;

	if (jwk_bytes(jwk, "n", &n, &n_len) || jwk_bytes(jwk, "e", &e, &e_len)) {
		snprintf(err, errlen, "\"n\" and \"e\" must be non-empty base64url strings");
		goto out;
	}
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn_n || !bn_e || !bld) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	if (BN_num_bits(bn_n) < JWT_RSA_MIN_BITS) {
		snprintf(err, errlen, "RSA modulus of %d bits is too short; use %d bits or more",
			 BN_num_bits(bn_n), JWT_RSA_MIN_BITS);
		goto out;
	}
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    !(k->pkey = pkey_from_params("RSA", bld))) {
		snprintf(err, errlen, "OpenSSL refused the RSA public key (check \"n\" and \"e\")");
		goto out;
	}
	k->kty = KTY_RSA;
	ret = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return ret;
}

static int jwk_ec(const json_t *jwk, unsigned int flen, struct jwt_key *k, char *err,
		  size_t errlen)
{
	unsigned char *x = NULL, *y = NULL, pub[1 + 2 * 48];
	OSSL_PARAM_BLD *bld = NULL;
	size_t x_len = 0, y_len = 0;
	int ret = -EINVAL;

	if (jwk_bytes(jwk, "x", &x, &x_len) || jwk_bytes(jwk, "y", &y, &y_len) ||
	    x_len != flen || y_len != flen) {
		snprintf(err, errlen, "\"x\" and \"y\" must be base64url strings of %u bytes", flen);
		goto out;
	}
	pub[0] = 0x04; /* uncompressed point */
	memcpy(pub + 1, x, flen);
	memcpy(pub + 1 + flen, y, flen);
	bld = OSSL_PARAM_BLD_new();
	if (!bld) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     flen == 32 ? "P-256" : "P-384", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * flen) ||
	    !(k->pkey = pkey_from_params("EC", bld))) {
		snprintf(err, errlen, "\"x\", \"y\" is not a point on the curve");
		goto out;
	}
	k->kty = KTY_EC;
	k->ec_len = flen;
	ret = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return ret;
}

/*
 * Fill @k from one JWK. Returns 0, 1 when the key is skipped (not a signing
 * key, or a type or algorithm this verifier has no use for), or -errno with
 * the reason in @err.
 */
static int jwk_parse(const json_t *jwk, struct jwt_key *k, char *err, size_t errlen)
{
	const json_t *kty = json_object_get(jwk, "kty"), *kid = json_object_get(jwk, "kid");
	const json_t *use = json_object_get(jwk, "use"), *alg = json_object_get(jwk, "alg");
	const char *t;
	int ret;

	memset(k, 0, sizeof(*k));
	k->alg = -1;
	if (!json_is_object(jwk)) {
		snprintf(err, errlen, "is not an object");
		return -EINVAL;
	}
	if (!json_is_string(kty)) {
		snprintf(err, errlen, "\"kty\" must be a string (\"RSA\", \"EC\" or \"oct\")");
		return -EINVAL;
	}
	if (kid && !json_is_string(kid)) {
		snprintf(err, errlen, "\"kid\" must be a string");
		return -EINVAL;
	}
	if (use && !json_is_string(use)) {
		snprintf(err, errlen, "\"use\" must be a string");
		return -EINVAL;
	}
	if (alg && !json_is_string(alg)) {
		snprintf(err, errlen, "\"alg\" must be a string");
		return -EINVAL;
	}
	if (use && strcmp(json_string_value(use), "sig"))
		return 1; /* an encryption key */
	if (alg) {
		k->alg = alg_from_name(json_string_value(alg));
		if (k->alg < 0)
			return 1; /* PS256, EdDSA, ...: not ours */
	}
	t = json_string_value(kty);
	if (!strcmp(t, "RSA")) {
		ret = jwk_rsa(jwk, k, err, errlen);
	} else if (!strcmp(t, "EC")) {
		const json_t *crv = json_object_get(jwk, "crv");
		const char *c = json_is_string(crv) ? json_string_value(crv) : "";

		if (!strcmp(c, "P-256"))
			ret = jwk_ec(jwk, 32, k, err, errlen);
		else if (!strcmp(c, "P-384"))
			ret = jwk_ec(jwk, 48, k, err, errlen);
		else if (json_is_string(crv))
			return 1; /* P-521, secp256k1: not ours */
		else {
			snprintf(err, errlen, "\"crv\" must be a string (\"P-256\" or \"P-384\")");
			return -EINVAL;
		}
	} else if (!strcmp(t, "oct")) {
		ret = jwk_bytes(jwk, "k", &k->secret, &k->secret_len);
		if (ret) {
			snprintf(err, errlen, "\"k\" must be a non-empty base64url string");
		} else if (k->secret_len < JWT_HMAC_MIN_BYTES) {
			snprintf(err, errlen,
				 "\"k\" has %zu bytes; an HMAC key needs at least %d (RFC 7518 3.2)",
				 k->secret_len, JWT_HMAC_MIN_BYTES);
			ret = -EINVAL;
		}
		k->kty = KTY_OCT;
	} else {
		return 1; /* OKP and future types */
	}
	if (!ret && k->alg >= 0 && alg_info[k->alg].kty != k->kty) {
		snprintf(err, errlen, "\"alg\" %s does not fit \"kty\" %s", alg_info[k->alg].name,
			 t);
		ret = -EINVAL;
	}
	if (!ret && k->alg >= 0 && k->kty == KTY_EC && alg_info[k->alg].ec_len != k->ec_len) {
		snprintf(err, errlen, "\"alg\" %s does not fit curve \"crv\"",
			 alg_info[k->alg].name);
		ret = -EINVAL;
	}
	if (!ret && kid && !(k->kid = strdup(json_string_value(kid)))) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
	}
	if (ret)
		key_clear(k);
	return ret;
}

/* Read a whole file of at most @max bytes from an open descriptor. */
static int read_fd(int fd, size_t max, char **out, size_t *outlen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/*
 * A new key set: every usable key of the JWKS file @path (if any) and the PEM
 * key (if any). Records the file's identity in @id. NULL with the reason in @err.
 */
static struct keyset *keyset_load(const struct sl_jwt *j, struct file_id *id, char *err,
				  size_t errlen)
{
	struct keyset *ks = NULL;
	json_t *root = NULL, *keys;
	size_t i, len = 0, nk = 0;
	json_error_t jerr;
	char *buf = NULL;
	char why[160];
	struct stat st;
	int fd, ret;

	if (j->jwks_path) {
		fd = open(j->jwks_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open \"%s\": %s", j->jwks_path,
				 strerror(errno));
			return NULL;
		}
		ret = fstat(fd, &st) ? -errno : read_fd(fd, JWKS_FILE_MAX, &buf, &len);
		close(fd);
		if (ret) {
			snprintf(err, errlen, "cannot read \"%s\": %s", j->jwks_path,
				 ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
			return NULL;
		}
		id->dev = st.st_dev;
		id->ino = st.st_ino;
		id->size = st.st_size;
		id->mtime = st.st_mtim;
		root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		free(buf);
		if (!root) {
			snprintf(err, errlen, "\"%s\" line %d: %s", j->jwks_path, jerr.line,
				 jerr.text);
			return NULL;
		}
		keys = json_object_get(root, "keys");
		if (!json_is_array(keys)) {
			snprintf(err, errlen,
				 "\"%s\": not a JWK set (expected an object with a \"keys\" array)",
				 j->jwks_path);
			goto fail;
		}
		nk = json_array_size(keys);
	}
	ks = calloc(1, sizeof(*ks) + (nk + 1) * sizeof(ks->keys[0]));
	if (!ks) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ks->refs = 1;
	for (i = 0; i < nk; i++) {
		ret = jwk_parse(json_array_get(keys, i), &ks->keys[ks->n], why, sizeof(why));
		if (ret < 0) {
			snprintf(err, errlen, "\"%s\": keys[%zu]: %s", j->jwks_path, i, why);
			goto fail;
		}
		if (ret == 0)
			ks->n++;
	}
	if (j->pem_key) {
		struct jwt_key *k = &ks->keys[ks->n];

		k->alg = -1;
		k->kty = j->pem_kty;
		k->ec_len = j->pem_ec_len;
		if ((j->pem_kid && !(k->kid = strdup(j->pem_kid))) ||
		    !EVP_PKEY_up_ref(j->pem_key)) {
			free(k->kid);
			k->kid = NULL;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		k->pkey = j->pem_key;
		ks->n++;
	}
	json_decref(root);
	return ks;
fail:
	keyset_put(ks);
	json_decref(root);
	return NULL;
}

static int load_pem(struct sl_jwt *j, char *err, size_t errlen)
{
	char group[32] = "";
	EVP_PKEY *pkey;
	size_t glen;
	FILE *f;

	f = fopen(j->pem_path, "re");
	if (!f) {
		snprintf(err, errlen, "cannot open \"%s\": %s", j->pem_path, strerror(errno));
		return -errno;
	}
	pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!pkey) {
		snprintf(err, errlen,
			 "\"%s\" holds no PEM public key (want \"-----BEGIN PUBLIC KEY-----\")",
			 j->pem_path);
		return -EINVAL;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		j->pem_kty = KTY_RSA;
		if (EVP_PKEY_get_bits(pkey) < JWT_RSA_MIN_BITS) {
			snprintf(err, errlen, "\"%s\": RSA key of %d bits is too short; use %d or more",
				 j->pem_path, EVP_PKEY_get_bits(pkey), JWT_RSA_MIN_BITS);
			goto bad;
		}
	} else if (EVP_PKEY_is_a(pkey, "EC") &&
		   EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1) {
		j->pem_kty = KTY_EC;
		if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256")) {
			j->pem_ec_len = 32;
		} else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384")) {
			j->pem_ec_len = 48;
		} else {
			snprintf(err, errlen, "\"%s\": EC curve %s is not supported; use P-256 or P-384",
				 j->pem_path, group);
			goto bad;
		}
	} else {
		snprintf(err, errlen, "\"%s\": only RSA and EC (P-256, P-384) keys are supported",
			 j->pem_path);
		goto bad;
	}
	if (pkey_public_ok(pkey)) {
		snprintf(err, errlen, "\"%s\": OpenSSL refused the public key", j->pem_path);
		goto bad;
	}
	j->pem_key = pkey;
	return 0;
bad:
	EVP_PKEY_free(pkey);
	return -EINVAL;
}

/* ---- JWKS reloads ---- */

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/*
 * Reload the JWKS file: when @force, always; otherwise only when its identity
 * (device, inode, size, mtime) changed. A bad file keeps the current keys.
 * Returns true when a new key set is in place. Never waits for another reload.
 */
static bool jwks_reload(struct sl_jwt *j, bool force)
{
	struct keyset *ks, *old;
	bool done = false, changed = true;
	struct file_id id;
	char err[256];
	struct stat st;

	if (!j->jwks_path || pthread_mutex_trylock(&j->reload_lock))
		return false;
	if (!force) {
		if (stat(j->jwks_path, &st))
			goto out; /* mid-rename or removed: keep the keys, look again later */
		id = (struct file_id){ st.st_dev, st.st_ino, st.st_size, st.st_mtim };
		if (file_id_eq(&id, &j->file_id))
			goto out;
	}
	memset(&id, 0, sizeof(id));
	ks = keyset_load(j, &id, err, sizeof(err));
	changed = !file_id_eq(&id, &j->file_id);
	if (id.ino || id.dev)
		j->file_id = id; /* a bad file is not re-read until it changes again */
	if (!ks) {
		count(&j->st[J_RELOAD_ERRORS]);
		pr_warn("jwt: jwks reload failed, keeping the previous keys: %s", err);
		goto out;
	}
	pthread_rwlock_wrlock(&j->ks_lock);
	old = j->ks;
	j->ks = ks;
	__atomic_add_fetch(&j->ks_gen, 1, __ATOMIC_ACQ_REL);
	pthread_rwlock_unlock(&j->ks_lock);
	keyset_put(old);
	count(&j->st[J_RELOADS]);
	/* an unknown kid re-reads an unchanged file at most once per interval: quietly */
	if (changed)
		pr_info("jwt: jwks \"%s\" reloaded: %zu keys", j->jwks_path, ks->n);
	else
		pr_debug("jwt: jwks \"%s\" re-read for an unknown kid: unchanged", j->jwks_path);
	done = true;
out:
	pthread_mutex_unlock(&j->reload_lock);
	return done;
}

/* Claim the right to act once per @gap_ms on the timestamp @last. */
static bool pace(uint64_t *last, uint64_t now, uint64_t gap_ms)
{
	uint64_t prev = __atomic_load_n(last, __ATOMIC_RELAXED);

	if (now - prev < gap_ms)
		return false;
	return __atomic_compare_exchange_n(last, &prev, now, false, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/* ---- signatures ---- */

static bool key_fits(const struct jwt_key *k, enum alg a)
{
	if (k->kty != alg_info[a].kty || (k->alg >= 0 && k->alg != (int)a))
		return false;
	if (k->kty == KTY_EC && k->ec_len != alg_info[a].ec_len)
		return false;
	if (k->kty == KTY_OCT && k->secret_len < alg_info[a].hash_len)
		return false;
	return true;
}

static bool verify_hmac(const struct jwt_key *k, enum alg a, const char *in, size_t len,
			const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!HMAC(alg_md(a), k->secret, (int)k->secret_len, (const unsigned char *)in, len, mac,
		  &maclen))
		return false;
	return siglen == maclen && !CRYPTO_memcmp(mac, sig, maclen);
}

static bool verify_pkey(const struct jwt_key *k, enum alg a, const char *in, size_t len,
			const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = false;

	if (md && EVP_DigestVerifyInit(md, NULL, alg_md(a), NULL, k->pkey) == 1)
		ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)in, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* JWS carries ECDSA as r || s, fixed width (RFC 7518 3.4); EVP wants DER. */
static bool verify_ecdsa(const struct jwt_key *k, enum alg a, const char *in, size_t len,
			 const unsigned char *sig, size_t siglen)
{
	unsigned int n = alg_info[a].ec_len;
	unsigned char *der = NULL;
	BIGNUM *r, *s;
	ECDSA_SIG *es;
	bool ok = false;
	int derlen;

	if (siglen != 2 * n)
		return false;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)n, NULL);
	s = BN_bin2bn(sig + n, (int)n, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return false;
	}
	derlen = i2d_ECDSA_SIG(es, &der);
	if (derlen > 0)
		ok = verify_pkey(k, a, in, len, der, (size_t)derlen);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

static bool verify_sig(const struct jwt_key *k, enum alg a, const char *in, size_t len,
		       const unsigned char *sig, size_t siglen)
{
	switch (k->kty) {
	case KTY_OCT:
		return verify_hmac(k, a, in, len, sig, siglen);
	case KTY_RSA:
		return verify_pkey(k, a, in, len, sig, siglen);
	default:
		return verify_ecdsa(k, a, in, len, sig, siglen);
	}
}

/*
 * Check the signature with the key named @kid (or, without a kid, every key of
 * the algorithm's type). Reloads the JWKS once per interval for an unknown kid.
 */
static enum sl_jwt_result check_signature(struct sl_jwt *j, enum alg a, const char *kid,
					  const char *in, size_t len, const unsigned char *sig,
					  size_t siglen)
{
	enum sl_jwt_result res;
	bool named, fits, reloaded = false;
	struct keyset *ks;
	size_t i;

	ks = keyset_get(j);
	for (;;) {
		named = fits = false;
		res = SL_JWT_BAD_SIGNATURE;
		for (i = 0; i < ks->n; i++) {
			const struct jwt_key *k = &ks->keys[i];

			if (kid && (!k->kid || strcmp(k->kid, kid)))
				continue;
			named = true;
			if (!key_fits(k, a))
				continue;
			fits = true;
			count(&j->st[J_MISSES]);
			if (verify_sig(k, a, in, len, sig, siglen)) {
				res = SL_JWT_OK;
				break;
			}
		}
		if (named || !kid || reloaded ||
		    !pace(&j->last_kid_ms, j->clock_ms(), j->reload_interval_ms) ||
		    !jwks_reload(j, true))
			break;
		reloaded = true;
		keyset_put(ks);
		ks = keyset_get(j);
	}
	keyset_put(ks);
	if (!named)
		return kid ? SL_JWT_UNKNOWN_KID : SL_JWT_BAD_ALG;
	if (!fits)
		return SL_JWT_BAD_ALG; /* e.g. HS256 naming an RSA key: algorithm confusion */
	return res;
}

/* ---- claims ---- */

static bool aud_matches(const struct sl_jwt *j, const json_t *v)
{
	size_t i;

	if (!json_is_string(v))
		return false;
	for (i = 0; i < j->n_audience; i++)
		if (!strcmp(json_string_value(v), j->audience[i]))
			return true;
	return false;
}

static enum sl_jwt_result check_claims(const struct sl_jwt *j, const json_t *p, time_t now)
{
	const json_t *exp = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf");
	const json_t *sub = json_object_get(p, "sub");
	double t = (double)now, leeway = (double)j->leeway_s;
	size_t i;

	if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)) ||
	    (sub && !json_is_string(sub)))
		return SL_JWT_MALFORMED;
	if (exp && json_number_value(exp) + leeway <= t)
		return SL_JWT_EXPIRED;
	if (nbf && json_number_value(nbf) - leeway > t)
		return SL_JWT_NOT_YET_VALID;
	if (j->issuer) {
		const json_t *iss = json_object_get(p, "iss");

		if (!json_is_string(iss) || strcmp(json_string_value(iss), j->issuer))
			return SL_JWT_BAD_ISSUER;
	}
	if (j->n_audience) {
		const json_t *aud = json_object_get(p, "aud"), *v;
		bool ok = aud_matches(j, aud);

		if (json_is_array(aud))
			json_array_foreach(aud, i, v)
				ok = ok || aud_matches(j, v);
		if (!ok)
			return SL_JWT_BAD_AUDIENCE;
	}
	for (i = 0; i < j->n_required; i++)
		if (!json_object_get(p, j->required[i]))
			return SL_JWT_MISSING_CLAIM;
	return SL_JWT_OK;
}

/* ---- cache ---- */

static struct cache_entry *cache_slot(const struct sl_jwt *j, const unsigned char *h)
{
	uint64_t x;

	memcpy(&x, h, sizeof(x));
	return &j->cache[x % j->cache_size];
}

static bool cache_lookup(struct sl_jwt *j, const unsigned char *h, time_t now, char *sub,
			 size_t sublen)
{
	struct cache_entry *e = cache_slot(j, h);
	bool hit = false;

	pthread_mutex_lock(&j->cache_lock);
	if (e->until && now < e->until && e->gen == __atomic_load_n(&j->ks_gen, __ATOMIC_ACQUIRE) &&
	    !memcmp(e->hash, h, SHA256_DIGEST_LENGTH)) {
		if (sub && sublen)
			snprintf(sub, sublen, "%s", e->sub);
		hit = true;
	}
	pthread_mutex_unlock(&j->cache_lock);
	return hit;
}

static void cache_insert(struct sl_jwt *j, const unsigned char *h, time_t until, const char *sub,
			 uint64_t gen)
{
	struct cache_entry *e = cache_slot(j, h);
	char *copy = strdup(sub);

	if (!copy)
		return;
	pthread_mutex_lock(&j->cache_lock);
	free(e->sub);
	memcpy(e->hash, h, SHA256_DIGEST_LENGTH);
	e->until = until;
	e->gen = gen;
	e->sub = copy;
	pthread_mutex_unlock(&j->cache_lock);
}

/* ---- verification ---- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The token of "Bearer <token>" (scheme case-insensitive, RFC 7235 2.1), or NULL. */
static const char *bearer_token(const char *a, size_t len, size_t *tlen)
{
	size_t i = 0, end = len;

	while (i < len && is_ows(a[i]))
		i++;
	while (end > i && is_ows(a[end - 1]))
		end--;
	if (end - i < 7 || strncasecmp(a + i, "bearer", 6) || !is_ows(a[i + 6]))
		return NULL;
	i += 6;
	while (i < end && is_ows(a[i]))
		i++;
	*tlen = end - i;
	return a + i;
}

static json_t *decode_json(const char *in, size_t len)
{
	unsigned char *buf;
	json_t *v = NULL;
	size_t n;

	if (b64url_decode(in, len, &buf, &n))
		return NULL;
	v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static enum sl_jwt_result verify_token(struct sl_jwt *j, const char *tok, size_t len, time_t now,
				       const unsigned char *hash, char *sub, size_t sublen)
{
	/* read before the keys are: a reload during the check makes the entry stale */
	uint64_t gen = __atomic_load_n(&j->ks_gen, __ATOMIC_ACQUIRE);
	const char *d1, *d2, *kid = NULL, *name, *subv;
	json_t *hdr = NULL, *pay = NULL, *v;
	unsigned char *sig = NULL;
	enum sl_jwt_result res;
	size_t siglen;
	int a;

	d1 = memchr(tok, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)))
		return SL_JWT_MALFORMED;
	res = SL_JWT_MALFORMED;
	hdr = decode_json(tok, (size_t)(d1 - tok));
	if (!hdr)
		goto out;
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v))
		goto out;
	name = json_string_value(v);
	if (!strcasecmp(name, "none")) {
		res = SL_JWT_BAD_ALG;
		goto out;
	}
	/* unknown critical extensions must be refused (RFC 7515 4.1.11); we know none */
	if (json_object_get(hdr, "crit"))
		goto out;
	v = json_object_get(hdr, "kid");
	if (v && !json_is_string(v))
		goto out;
	kid = v ? json_string_value(v) : NULL;
	pay = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (!pay || b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), &sig, &siglen))
		goto out;
	a = alg_from_name(name);
	if (a < 0 || !(j->algs & (1u << a))) {
		res = SL_JWT_BAD_ALG;
		goto out;
	}
	res = check_signature(j, (enum alg)a, kid, tok, (size_t)(d2 - tok), sig, siglen);
	if (res != SL_JWT_OK)
		goto out;
	res = check_claims(j, pay, now);
	if (res != SL_JWT_OK)
		goto out;
	v = json_object_get(pay, "sub");
	subv = v ? json_string_value(v) : "";
	if (sub && sublen)
		snprintf(sub, sublen, "%s", subv);
	if (j->cache_size && j->cache_ttl_s && strlen(subv) <= JWT_SUB_CACHE_MAX) {
		time_t until = now + (time_t)j->cache_ttl_s;

		v = json_object_get(pay, "exp");
		if (v && json_number_value(v) < (double)until)
			until = (time_t)json_number_value(v);
		if (until > now)
			cache_insert(j, hash, until, subv, gen);
	}
out:
	free(sig);
	json_decref(pay);
	json_decref(hdr);
	return res;
}

enum sl_jwt_result sl_jwt_verify(struct sl_jwt *j, const char *authz, size_t len, time_t now,
				 char *sub, size_t sublen)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	enum sl_jwt_result res;
	const char *tok;
	size_t tlen, i;

	if (j->jwks_path && pace(&j->last_check_ms, j->clock_ms(), JWT_CHECK_MS))
		jwks_reload(j, false);
	tok = authz ? bearer_token(authz, len, &tlen) : NULL;
	if (!tok || !tlen) {
		res = SL_JWT_MISSING;
		goto out;
	}
	res = SL_JWT_MALFORMED;
	if (tlen > JWT_TOKEN_MAX)
		goto out;
	for (i = 0; i < tlen; i++)
		if (tok[i] != '.' && b64url_val((unsigned char)tok[i]) < 0)
			goto out;
	if (j->cache_size && j->cache_ttl_s) {
		SHA256((const unsigned char *)tok, tlen, hash);
		if (cache_lookup(j, hash, now, sub, sublen)) {
			count(&j->st[J_HITS]);
			res = SL_JWT_OK;
			goto out;
		}
	}
	res = verify_token(j, tok, tlen, now, hash, sub, sublen);
out:
	if (res == SL_JWT_OK)
		count(&j->st[J_VERIFIED]);
	else
		count(&j->st[J_FAILED + res]);
	return res;
}

/* ---- configuration ---- */

const char *sl_jwt_forward_header(const struct sl_jwt *j)
{
	return j ? j->forward : NULL;
}

void sl_jwt_set_clock(struct sl_jwt *j, uint64_t (*now_ms)(void))
{
	j->clock_ms = now_ms ? now_ms : mono_ms;
	__atomic_store_n(&j->last_check_ms, j->clock_ms(), __ATOMIC_RELAXED);
	__atomic_store_n(&j->last_kid_ms, j->clock_ms() - j->reload_interval_ms,
			 __ATOMIC_RELAXED);
}

void sl_jwt_bind_counters(struct sl_jwt *j, uint64_t *cells)
{
	j->st = cells ? cells : j->st_own;
}

void sl_jwt_get_stats(struct sl_jwt *j, struct sl_jwt_stats *out)
{
	struct keyset *ks;
	int i;

	memset(out, 0, sizeof(*out));
	out->verified = __atomic_load_n(&j->st[J_VERIFIED], __ATOMIC_RELAXED);
	for (i = 0; i < SL_JWT__MAX; i++)
		out->failed[i] = __atomic_load_n(&j->st[J_FAILED + i], __ATOMIC_RELAXED);
	out->cache_hits = __atomic_load_n(&j->st[J_HITS], __ATOMIC_RELAXED);
	out->cache_misses = __atomic_load_n(&j->st[J_MISSES], __ATOMIC_RELAXED);
	out->reloads = __atomic_load_n(&j->st[J_RELOADS], __ATOMIC_RELAXED);
	out->reload_errors = __atomic_load_n(&j->st[J_RELOAD_ERRORS], __ATOMIC_RELAXED);
	ks = keyset_get(j);
	out->keys = ks->n;
	keyset_put(ks);
}

void sl_jwt_free(struct sl_jwt *j)
{
	size_t i;

	if (!j)
		return;
	keyset_put(j->ks);
	if (j->cache) {
		for (i = 0; i < j->cache_size; i++)
			free(j->cache[i].sub);
		free(j->cache);
	}
	pthread_rwlock_destroy(&j->ks_lock);
	pthread_mutex_destroy(&j->reload_lock);
	pthread_mutex_destroy(&j->cache_lock);
	EVP_PKEY_free(j->pem_key);
	for (i = 0; i < j->n_audience; i++)
		free(j->audience[i]);
	free(j->audience);
	for (i = 0; i < j->n_required; i++)
		free(j->required[i]);
	free(j->required);
	free(j->jwks_path);
	free(j->pem_path);
	free(j->pem_kid);
	free(j->issuer);
	free(j->forward);
	free(j);
}

/* An optional non-empty string member into *out; -EINVAL with the reason in err. */
static int conf_str(const json_t *obj, const char *name, const char *path, char **out, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(obj, name);

	if (!v)
		return 0;
	if (!json_is_string(v) || !json_string_length(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "%s.%s: must be a non-empty string", path, name);
		return -EINVAL;
	}
	*out = strdup(json_string_value(v));
	if (!*out) {
		snprintf(err, errlen, "%s.%s: out of memory", path, name);
		return -ENOMEM;
	}
	return 0;
}

/* An optional integer member in [min, max] into *out (left at its default when absent). */
static int conf_int(const json_t *obj, const char *name, const char *path, long long min,
		    long long max, long long *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, name);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(err, errlen, "%s.%s: must be an integer from %lld to %lld", path, name,
			 min, max);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

/* A string or (when @array_ok) a non-empty array of non-empty strings. */
static int conf_strs(const json_t *obj, const char *name, const char *path, bool string_ok,
		     char ***out, size_t *n, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, name), *e;
	size_t i, cnt;

	if (!v)
		return 0;
	if (string_ok && json_is_string(v))
		cnt = 1;
	else if (json_is_array(v) && json_array_size(v))
		cnt = json_array_size(v);
	else
		goto bad;
	*out = calloc(cnt, sizeof(**out));
	if (!*out)
		goto nomem;
	for (i = 0; i < cnt; i++) {
		e = json_is_array(v) ? json_array_get(v, i) : v;
		if (!json_is_string(e) || !json_string_length(e) ||
		    strlen(json_string_value(e)) != json_string_length(e))
			goto bad;
		(*out)[i] = strdup(json_string_value(e));
		if (!(*out)[i])
			goto nomem;
		*n = i + 1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s.%s: must be %sa non-empty array of non-empty strings", path,
		 name, string_ok ? "a non-empty string or " : "");
	return -EINVAL;
nomem:
	snprintf(err, errlen, "%s.%s: out of memory", path, name);
	return -ENOMEM;
}

static int conf_algs(struct sl_jwt *j, const json_t *obj, const char *path, char *err,
		     size_t errlen)
{
	const json_t *v = json_object_get(obj, "algs"), *e;
	size_t i;
	int a;

	if (!json_is_array(v) || !json_array_size(v)) {
		snprintf(err, errlen,
			 "%s.algs: required, a non-empty array of algorithms like [\"RS256\"]", path);
		return -EINVAL;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			snprintf(err, errlen, "%s.algs[%zu]: must be a string like \"RS256\"", path, i);
			return -EINVAL;
		}
		if (!strcasecmp(json_string_value(e), "none")) {
			snprintf(err, errlen,
				 "%s.algs: \"none\" is never allowed; list algorithms like [\"RS256\"]",
				 path);
			return -EINVAL;
		}
		a = alg_from_name(json_string_value(e));
		if (a < 0) {
			snprintf(err, errlen,
				 "%s.algs[%zu]: \"%s\" is not supported; use HS256, HS384, HS512, "
				 "RS256, RS384, RS512, ES256 or ES384",
				 path, i, json_string_value(e));
			return -EINVAL;
		}
		j->algs |= 1u << a;
	}
	return 0;
}

static bool header_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

static int conf_parse(struct sl_jwt *j, const json_t *obj, const char *path, char *err,
		      size_t errlen)
{
	static const char *const known[] = {
		"jwks",	    "pem",	       "pem_kid",	  "algs",	"issuer",
		"audience", "leeway_s",	       "required_claims", "forward_subject", "cache_ttl_s",
		"cache_size", "reload_interval_ms",
	};
	long long size = 10000, interval = 1000;
	const char *key;
	const json_t *v;
	size_t i;

	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: must be an object like {\"jwks\": FILE, \"algs\": [\"RS256\"]}",
			 path);
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(key, known[i]))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(err, errlen,
				 "%s.%s: unknown field (known: jwks, pem, pem_kid, algs, issuer, "
				 "audience, leeway_s, required_claims, forward_subject, cache_ttl_s, "
				 "cache_size, reload_interval_ms)",
				 path, key);
			return -EINVAL;
		}
	}
	j->cache_ttl_s = 300;
	if (conf_str(obj, "jwks", path, &j->jwks_path, err, errlen) ||
	    conf_str(obj, "pem", path, &j->pem_path, err, errlen) ||
	    conf_str(obj, "pem_kid", path, &j->pem_kid, err, errlen) ||
	    conf_str(obj, "issuer", path, &j->issuer, err, errlen) ||
	    conf_str(obj, "forward_subject", path, &j->forward, err, errlen) ||
	    conf_strs(obj, "audience", path, true, &j->audience, &j->n_audience, err, errlen) ||
	    conf_strs(obj, "required_claims", path, false, &j->required, &j->n_required, err,
		      errlen) ||
	    conf_algs(j, obj, path, err, errlen) ||
	    conf_int(obj, "leeway_s", path, 0, 86400, &j->leeway_s, err, errlen) ||
	    conf_int(obj, "cache_ttl_s", path, 0, 86400, &j->cache_ttl_s, err, errlen) ||
	    conf_int(obj, "cache_size", path, 0, JWT_CACHE_SIZE_MAX, &size, err, errlen) ||
	    conf_int(obj, "reload_interval_ms", path, 0, 3600 * 1000, &interval, err, errlen))
		return -EINVAL;
	j->cache_size = (size_t)size;
	j->reload_interval_ms = (uint64_t)interval;
	if (!j->jwks_path && !j->pem_path) {
		snprintf(err, errlen, "%s: no keys; set \"jwks\" (a JWK set file) or \"pem\" (a public key file)",
			 path);
		return -EINVAL;
	}
	if (j->pem_kid && !j->pem_path) {
		snprintf(err, errlen, "%s.pem_kid: names the \"pem\" key; set \"pem\" or remove it", path);
		return -EINVAL;
	}
	if (j->forward && !header_name_ok(j->forward)) {
		snprintf(err, errlen, "%s.forward_subject: \"%s\" is not a header name; use letters, digits and '-'",
			 path, j->forward);
		return -EINVAL;
	}
	return 0;
}

struct sl_jwt *sl_jwt_from_json(const json_t *obj, const char *path, char *err, size_t errlen)
{
	struct sl_jwt *j = calloc(1, sizeof(*j));
	char why[384];
	size_t i;
	int a;

	if (!j) {
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	j->st = j->st_own;
	pthread_rwlock_init(&j->ks_lock, NULL);
	pthread_mutex_init(&j->reload_lock, NULL);
	pthread_mutex_init(&j->cache_lock, NULL);
	if (conf_parse(j, obj, path, err, errlen))
		goto fail;
	if (j->pem_path && load_pem(j, why, sizeof(why))) {
		snprintf(err, errlen, "%s.pem: %s", path, why);
		goto fail;
	}
	j->ks = keyset_load(j, &j->file_id, why, sizeof(why));
	if (!j->ks) {
		snprintf(err, errlen, "%s.jwks: %s", path, why);
		goto fail;
	}
	/* a route no key can ever pass is a configuration mistake */
	for (a = 0; a < ALG__N; a++)
		for (i = 0; (j->algs & (1u << a)) && i < j->ks->n; i++)
			if (key_fits(&j->ks->keys[i], (enum alg)a))
				goto usable;
	snprintf(err, errlen,
		 "%s: no key fits any algorithm in \"algs\" (HS* needs \"oct\" keys in \"jwks\", "
		 "RS* RSA keys, ES256/ES384 EC P-256/P-384 keys)",
		 path);
	goto fail;
usable:
	if (j->cache_size && j->cache_ttl_s) {
		j->cache = calloc(j->cache_size, sizeof(*j->cache));
		if (!j->cache) {
			snprintf(err, errlen, "%s.cache_size: out of memory for %zu entries", path,
				 j->cache_size);
			goto fail;
		}
	} else {
		j->cache_size = 0;
	}
	sl_jwt_set_clock(j, NULL);
	return j;
fail:
	sl_jwt_free(j);
	errno = EINVAL;
	return NULL;
}

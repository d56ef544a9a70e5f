/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * jwtmint: make keys and JWTs with OpenSSL for the end-to-end tests.
 *
 *   jwtmint keygen DIR
 *       Writes DIR/rsa.pem (RSA 2048 private), DIR/rsa_pub.pem, DIR/ec256.pem,
 *       DIR/ec384.pem (EC private), DIR/hs.key (64 random bytes) and DIR/jwks.json
 *       with the public keys: RSA kid "rsa1", EC P-256 "ec1", EC P-384 "ec2",
 *       oct "hs1".
 *   jwtmint keygen DIR --only rsa|ec256|ec384|hs --kid KID [--keep]
 *       Rotation: writes one new key as DIR/KID.pem (DIR/KID_pub.pem for RSA and
 *       EC; DIR/KID.key for hs) and replaces DIR/jwks.json atomically (write a
 *       temporary file, rename) with only that key, or with the old keys plus
 *       that key under --keep.
 *   jwtmint sign DIR [--alg ALG] [--kid KID | --no-kid] [--key FILE]
 *                [--claims JSON] [--exp-in S] [--nbf-in S] [--header JSON]
 *                [--tamper] [--tamper-sig] [--alg-none] [--confuse]
 *       Prints a compact JWS. ALG: HS256/384/512, RS256/384/512, ES256/384
 *       (default RS256). The kid defaults by algorithm (rsa1, ec1, ec2, hs1).
 *       The signing key is --key FILE, else DIR/KID.pem or DIR/KID.key when it
 *       exists, else by algorithm DIR/rsa.pem, ec256.pem, ec384.pem, hs.key.
 *       --claims is the payload (default {"sub":"alice"}); --exp-in and --nbf-in
 *       set exp and nbf to now + S seconds (S may be negative); --header merges
 *       members into the header.
 *       --tamper     re-encodes the payload with "sub" changed, keeping the signature
 *       --tamper-sig flips a bit of the signature
 *       --alg-none   header {"alg":"none"}, empty signature
 *       --confuse    HS256 whose HMAC key is the bytes of DIR/rsa_pub.pem, kid rsa1
 *                    (the algorithm-confusion attack)
 *
 * Exit 0 on success, 1 on a failure (reason on stderr), 2 on bad usage.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define HS_BYTES 64

static const char usage[] =
	"usage: jwtmint keygen DIR [--only rsa|ec256|ec384|hs --kid KID [--keep]]\n"
	"       jwtmint sign DIR [--alg ALG] [--kid KID | --no-kid] [--key FILE]\n"
	"                    [--claims JSON] [--exp-in S] [--nbf-in S] [--header JSON]\n"
	"                    [--tamper] [--tamper-sig] [--alg-none] [--confuse]\n"
	"\n"
	"keygen DIR: DIR/rsa.pem rsa_pub.pem ec256.pem ec384.pem hs.key and jwks.json\n"
	"  (kids rsa1, ec1 (P-256), ec2 (P-384), hs1 (oct)).\n"
	"keygen --only TYPE --kid KID: a new key DIR/KID.pem (or KID.key), and jwks.json\n"
	"  replaced atomically by that key alone (--keep: the old keys plus it).\n"
	"sign: prints a token. ALG is HS256/384/512, RS256/384/512, ES256/384 (default\n"
	"  RS256); the key is --key, else DIR/KID.pem|key, else the algorithm's default\n"
	"  file. --claims is the payload (default {\"sub\":\"alice\"}); --exp-in/--nbf-in S\n"
	"  set exp/nbf to now+S. --tamper changes the payload after signing, --tamper-sig\n"
	"  the signature; --alg-none makes an unsigned {\"alg\":\"none\"} token; --confuse an\n"
	"  HS256 token keyed with the bytes of DIR/rsa_pub.pem, kid rsa1.\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jwtmint: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static char *b64url(const unsigned char *in, size_t len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	if (!out)
		die("out of memory");
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = abc[in[i] >> 2];
		*o++ = abc[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*o++ = abc[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*o++ = abc[in[i + 2] & 63];
	}
	if (len - i == 1) {
		*o++ = abc[in[i] >> 2];
		*o++ = abc[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		*o++ = abc[in[i] >> 2];
		*o++ = abc[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*o++ = abc[(in[i + 1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

static char *path_in(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		die("out of memory");
	return p;
}

static void *read_all(const char *path, size_t *len)
{
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, r;
	FILE *f = fopen(path, "rb");

	if (!f)
		die("cannot open %s: %s", path, strerror(errno));
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r);
	fclose(f);
	*len = n;
	return buf;
}

static void write_all(const char *path, const void *buf, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		die("cannot write %s: %s", path, strerror(errno));
	chmod(path, mode);
}

static void write_pem(const char *path, EVP_PKEY *k, int private)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	ok = private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, k);
	if (!ok || fclose(f))
		die("cannot write %s", path);
	chmod(path, private ? 0600 : 0644);
}

static char *bn_b64url(EVP_PKEY *k, const char *param, int pad)
{
	unsigned char buf[1024];
	BIGNUM *bn = NULL;
	int n;
	char *s;

	if (!EVP_PKEY_get_bn_param(k, param, &bn))
		die("cannot read %s of a key", param);
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	if (n <= 0)
		die("cannot encode %s", param);
	s = b64url(buf, (size_t)n);
	return s;
}

/* The public JWK of @k (RSA, EC or, with @secret, oct). */
static json_t *jwk_of(EVP_PKEY *k, const unsigned char *secret, size_t slen, const char *kid)
{
	json_t *j = json_object();
	char *a, *b;

	if (secret) {
		a = b64url(secret, slen);
		json_object_set_new(j, "kty", json_string("oct"));
		json_object_set_new(j, "k", json_string(a));
		free(a);
	} else if (EVP_PKEY_is_a(k, "RSA")) {
		a = bn_b64url(k, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_b64url(k, OSSL_PKEY_PARAM_RSA_E, 0);
		json_object_set_new(j, "kty", json_string("RSA"));
		json_object_set_new(j, "n", json_string(a));
		json_object_set_new(j, "e", json_string(b));
		free(a);
		free(b);
	} else {
		int flen = (EVP_PKEY_get_bits(k) + 7) / 8;

		a = bn_b64url(k, OSSL_PKEY_PARAM_EC_PUB_X, flen);
		b = bn_b64url(k, OSSL_PKEY_PARAM_EC_PUB_Y, flen);
		json_object_set_new(j, "kty", json_string("EC"));
		json_object_set_new(j, "crv", json_string(flen == 32 ? "P-256" : "P-384"));
		json_object_set_new(j, "x", json_string(a));
		json_object_set_new(j, "y", json_string(b));
		free(a);
		free(b);
	}
	json_object_set_new(j, "kid", json_string(kid));
	json_object_set_new(j, "use", json_string("sig"));
	return j;
}

/* Write DIR/jwks.json atomically: a temporary file in DIR, then rename. */
static void write_jwks(const char *dir, json_t *keys)
{
	char *path = path_in(dir, "jwks.json"), *tmp = path_in(dir, ".jwks.json.tmp");
	json_t *root = json_pack("{s:O}", "keys", keys);

	if (!root || json_dump_file(root, tmp, JSON_INDENT(2)) || chmod(tmp, 0644) ||
	    rename(tmp, path))
		die("cannot write %s: %s", path, strerror(errno));
	json_decref(root);
	free(path);
	free(tmp);
}

/* Make one key of @type; its files get @base (e.g. "rsa" → rsa.pem, rsa_pub.pem). */
static json_t *make_key(const char *dir, const char *type, const char *base, const char *kid)
{
	unsigned char secret[HS_BYTES];
	EVP_PKEY *k = NULL;
	json_t *jwk;
	char name[256];
	char *p;

	if (!strcmp(type, "hs")) {
		if (RAND_bytes(secret, sizeof(secret)) != 1)
			die("RAND_bytes failed");
		snprintf(name, sizeof(name), "%s.key", base);
		p = path_in(dir, name);
		write_all(p, secret, sizeof(secret), 0600);
		free(p);
		return jwk_of(NULL, secret, sizeof(secret), kid);
	}
	if (!strcmp(type, "rsa"))
		k = EVP_RSA_gen(2048);
	else if (!strcmp(type, "ec256"))
		k = EVP_EC_gen("P-256");
	else if (!strcmp(type, "ec384"))
		k = EVP_EC_gen("P-384");
	else
		die("unknown key type '%s' (use rsa, ec256, ec384 or hs)", type);
	if (!k)
		die("cannot generate a %s key", type);
	snprintf(name, sizeof(name), "%s.pem", base);
	p = path_in(dir, name);
	write_pem(p, k, 1);
	free(p);
	snprintf(name, sizeof(name), "%s_pub.pem", base);
	p = path_in(dir, name);
	write_pem(p, k, 0);
	free(p);
	jwk = jwk_of(k, NULL, 0, kid);
	EVP_PKEY_free(k);
	return jwk;
}

static int cmd_keygen(int argc, char **argv)
{
	const char *dir, *only = NULL, *kid = NULL;
	json_t *keys = json_array();
	int i, keep = 0;

	if (argc < 3)
		goto usage;
	dir = argv[2];
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--kid") && i + 1 < argc)
			kid = argv[++i];
		else if (!strcmp(argv[i], "--keep"))
			keep = 1;
		else
			goto usage;
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		die("cannot create %s: %s", dir, strerror(errno));
	if (!only) {
		if (kid || keep)
			goto usage;
		json_array_append_new(keys, make_key(dir, "rsa", "rsa", "rsa1"));
		json_array_append_new(keys, make_key(dir, "ec256", "ec256", "ec1"));
		json_array_append_new(keys, make_key(dir, "ec384", "ec384", "ec2"));
		json_array_append_new(keys, make_key(dir, "hs", "hs", "hs1"));
	} else {
		if (!kid || strchr(kid, '/') || kid[0] == '.')
			die("--only needs --kid KID (a file name: no '/', no leading '.')");
		if (keep) {
			char *p = path_in(dir, "jwks.json");
			json_t *old = json_load_file(p, 0, NULL);

			if (!json_is_array(json_object_get(old, "keys")))
				die("--keep: %s is not a JWK set", p);
			json_array_extend(keys, json_object_get(old, "keys"));
			json_decref(old);
			free(p);
		}
		json_array_append_new(keys, make_key(dir, only, kid, kid));
	}
	write_jwks(dir, keys);
	json_decref(keys);
	return 0;
usage:
	fputs(usage, stderr);
	return 2;
}

static EVP_PKEY *read_private(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f)
		die("cannot open %s: %s", path, strerror(errno));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		die("%s holds no PEM private key", path);
	return k;
}

static const EVP_MD *md_of(const char *alg)
{
	if (!strcmp(alg + 2, "256"))
		return EVP_sha256();
	if (!strcmp(alg + 2, "384"))
		return EVP_sha384();
	if (!strcmp(alg + 2, "512"))
		return EVP_sha512();
	die("unknown algorithm %s", alg);
}

/* Sign @in with the PEM private key at @path; ECDSA comes back as JWS r || s. */
static unsigned char *sign_pkey(const char *path, const char *alg, const char *in, size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *k = read_private(path);
	unsigned char *sig;
	size_t len = 0;

	if (!md || EVP_DigestSignInit(md, NULL, md_of(alg), NULL, k) != 1 ||
	    EVP_DigestSign(md, NULL, &len, (const unsigned char *)in, strlen(in)) != 1)
		die("cannot sign with %s", path);
	sig = malloc(len);
	if (!sig || EVP_DigestSign(md, sig, &len, (const unsigned char *)in, strlen(in)) != 1)
		die("cannot sign with %s", path);
	if (alg[0] == 'E') {
		int flen = (EVP_PKEY_get_bits(k) + 7) / 8;
		const unsigned char *p = sig;
		unsigned char *raw = malloc(2 * (size_t)flen);
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);

		if (!raw || !es || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, flen) != flen ||
		    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + flen, flen) != flen)
			die("cannot convert the ECDSA signature");
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 2 * (size_t)flen;
	}
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	*siglen = len;
	return sig;
}

static unsigned char *sign_hmac(const char *path, const char *alg, const char *in, size_t *siglen)
{
	unsigned char *sig = malloc(EVP_MAX_MD_SIZE);
	unsigned int len = 0;
	size_t klen;
	void *key = read_all(path, &klen);

	if (!sig || !HMAC(md_of(alg), key, (int)klen, (const unsigned char *)in, strlen(in), sig,
			  &len))
		die("HMAC failed");
	free(key);
	*siglen = len;
	return sig;
}

static char *json_b64(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT), *b;

	if (!s)
		die("cannot encode JSON");
	b = b64url((unsigned char *)s, strlen(s));
	free(s);
	return b;
}

static json_t *parse_obj(const char *what, const char *s)
{
	json_error_t err;
	json_t *j = json_loads(s, 0, &err);

	if (!json_is_object(j))
		die("%s: not a JSON object (%s)", what, j ? "wrong type" : err.text);
	return j;
}

static int cmd_sign(int argc, char **argv)
{
	const char *dir, *alg = "RS256", *kid = NULL, *key = NULL, *claims = "{\"sub\":\"alice\"}";
	int i, no_kid = 0, tamper = 0, tamper_sig = 0, none = 0, confuse = 0, has_exp = 0,
	       has_nbf = 0;
	char *h64, *p64, *input, *s64, *keypath = NULL;
	long long exp_in = 0, nbf_in = 0;
	json_t *hdr = json_object(), *pay, *extra = NULL;
	unsigned char *sig;
	size_t siglen;

	if (argc < 3)
		goto usage;
	dir = argv[2];
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--alg") && i + 1 < argc)
			alg = argv[++i];
		else if (!strcmp(argv[i], "--kid") && i + 1 < argc)
			kid = argv[++i];
		else if (!strcmp(argv[i], "--no-kid"))
			no_kid = 1;
		else if (!strcmp(argv[i], "--key") && i + 1 < argc)
			key = argv[++i];
		else if (!strcmp(argv[i], "--claims") && i + 1 < argc)
			claims = argv[++i];
		else if (!strcmp(argv[i], "--header") && i + 1 < argc)
			extra = parse_obj("--header", argv[++i]);
		else if (!strcmp(argv[i], "--exp-in") && i + 1 < argc)
			exp_in = strtoll(argv[++i], NULL, 10), has_exp = 1;
		else if (!strcmp(argv[i], "--nbf-in") && i + 1 < argc)
			nbf_in = strtoll(argv[++i], NULL, 10), has_nbf = 1;
		else if (!strcmp(argv[i], "--tamper"))
			tamper = 1;
		else if (!strcmp(argv[i], "--tamper-sig"))
			tamper_sig = 1;
		else if (!strcmp(argv[i], "--alg-none"))
			none = 1;
		else if (!strcmp(argv[i], "--confuse"))
			confuse = 1;
		else
			goto usage;
	}
	if (confuse)
		alg = "HS256";
	if (!strstr(" HS256 HS384 HS512 RS256 RS384 RS512 ES256 ES384 ", alg) || strlen(alg) != 5)
		die("unknown algorithm %s (HS256/384/512, RS256/384/512, ES256/384)", alg);
	if (!kid && !no_kid)
		kid = confuse || alg[0] == 'R' ? "rsa1" :
		      alg[0] == 'H'		 ? "hs1" :
		      !strcmp(alg, "ES256")	 ? "ec1" :
						   "ec2";
	pay = parse_obj("--claims", claims);
	if (has_exp)
		json_object_set_new(pay, "exp", json_integer(time(NULL) + exp_in));
	if (has_nbf)
		json_object_set_new(pay, "nbf", json_integer(time(NULL) + nbf_in));
	json_object_set_new(hdr, "alg", json_string(none ? "none" : alg));
	json_object_set_new(hdr, "typ", json_string("JWT"));
	if (kid && !no_kid)
		json_object_set_new(hdr, "kid", json_string(kid));
	if (extra)
		json_object_update(hdr, extra);
	h64 = json_b64(hdr);
	p64 = json_b64(pay);
	if (asprintf(&input, "%s.%s", h64, p64) < 0)
		die("out of memory");

	if (none) {
		sig = NULL;
		siglen = 0;
	} else {
		if (confuse)
			keypath = path_in(dir, "rsa_pub.pem");
		else if (key)
			keypath = strdup(key);
		if (!keypath && kid) {
			char name[256];

			snprintf(name, sizeof(name), "%s.%s", kid, alg[0] == 'H' ? "key" : "pem");
			keypath = path_in(dir, name);
			if (access(keypath, R_OK)) {
				free(keypath);
				keypath = NULL;
			}
		}
		if (!keypath)
			keypath = path_in(dir, alg[0] == 'H'	      ? "hs.key" :
					       alg[0] == 'R'	      ? "rsa.pem" :
					       !strcmp(alg, "ES256") ? "ec256.pem" :
								       "ec384.pem");
		sig = alg[0] == 'H' ? sign_hmac(keypath, alg, input, &siglen) :
				      sign_pkey(keypath, alg, input, &siglen);
		free(keypath);
	}
	if (tamper_sig && siglen)
		sig[siglen / 2] ^= 0x01;
	if (tamper) {
		const char *sub = json_string_value(json_object_get(pay, "sub"));

		json_object_set_new(pay, "sub", json_string(sub && !strcmp(sub, "mallory") ?
								    "eve" :
								    "mallory"));
		free(p64);
		p64 = json_b64(pay);
	}
	s64 = b64url(sig ? sig : (const unsigned char *)"", siglen);
	printf("%s.%s.%s\n", h64, p64, s64);
	free(s64);
	free(sig);
	free(input);
	free(h64);
	free(p64);
	json_decref(pay);
	json_decref(hdr);
	json_decref(extra);
	return 0;
usage:
	fputs(usage, stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "keygen"))
		return cmd_keygen(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "sign"))
		return cmd_sign(argc, argv);
	fputs(usage, stderr);
	return 2;
}

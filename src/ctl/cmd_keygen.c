/* cmd_keygen.c -- `rhaictl keygen`: a new Ed25519 key pair for signed tasks.
 *
 * The secret key goes to a file created mode 0600 (never to the terminal
 * unless asked), the public key, which is the caller id of tasks signed
 * with it, to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static const char keygen_help[] =
    "Usage: rhaictl keygen --out FILE\n"
    "\n"
    "Make an Ed25519 key pair for signed tasks. The secret key (128 hex) is\n"
    "written to FILE, created with mode 0600 (it must not exist); the public\n"
    "key (64 hex), which becomes the caller id of tasks signed with it, is\n"
    "printed. Sign with: rhaictl submit --key FILE ...\n"
    "\n"
    "Options:\n"
    "  -o, --out FILE   where the secret key goes ('-': print it too)\n"
    "      --json       print {\"public_key\":...,\"secret_key_file\":...}\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

static int keygen_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "out", required_argument, NULL, 'o' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *out = NULL;
    char pk[65], sk[129];
    int c, fd;

    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'o': out = optarg; break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(keygen_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("keygen", c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    if (out == NULL)
        return ctl_usage_error("keygen", "say where the secret key goes: --out FILE");
    if (rhai_keygen(pk, sk) != 0) {
        ctl_errorf("keygen", "key generation failed");
        return CTL_EXIT_FAILED;
    }
    if (strcmp(out, "-") == 0) {
        printf(g->json ? "{\"public_key\":\"%s\",\"secret_key\":\"%s\"}\n" : "%s\n%s\n", pk, sk);
        return CTL_EXIT_OK;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, sk, 128) != 128 || write(fd, "\n", 1) != 1 || close(fd) != 0) {
        ctl_errorf("keygen", "%s: %s", out, strerror(errno));
        return CTL_EXIT_USAGE;
    }
    if (g->json)
        printf("{\"public_key\":\"%s\",\"secret_key_file\":\"%s\"}\n", pk, out);
    else
        printf("%s\n", pk);
    return CTL_EXIT_OK;
}

const ctl_cmd ctl_cmd_keygen = {
    "keygen", "--out FILE", "make an Ed25519 key pair for signed tasks", keygen_exec
};

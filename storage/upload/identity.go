package upload

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// serviceAccountToken is where Kubernetes mounts a pod's token.
const serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// User names who records, for the section comment and the user tag, in
// the order people expect: --user; inside a pod, its service account;
// the BOSH client (BOSH_CLIENT, as the bosh CLI uses it); the user of the
// current kubeconfig context; the login name. Only local files are read:
// asking the API server who we are would cost a round trip and a
// permission for a label.
func User(flag string) string {
	if flag != "" {
		return flag
	}
	if u := podServiceAccount(serviceAccountToken); u != "" {
		return u
	}
	if u := os.Getenv("BOSH_CLIENT"); u != "" {
		return "bosh:" + u
	}
	if u := kubeUser(); u != "" {
		return u
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// podServiceAccount reads the subject of the pod's service account token
// ("system:serviceaccount:NS:NAME") without verifying it: it is a label,
// not a credential check.
func podServiceAccount(path string) string {
	tok, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.TrimSpace(string(tok)), ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Sub
}

// kubeUser is the user entry of the kubeconfig's current context, when a
// kubeconfig exists.
func kubeUser() string {
	cfg, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil || cfg == nil {
		return ""
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok || ctx.AuthInfo == "" {
		return ""
	}
	return "kube:" + ctx.AuthInfo
}

package kube

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClientConfig is the outcome of reading a kubeconfig the way kubectl
// does, so `tapview attach` talks to the same cluster as the user's
// kubectl with the same flags.
type ClientConfig struct {
	REST   *rest.Config
	Client Client
	// Namespace is the context's namespace ("default" when it has none),
	// used when -n is not given.
	Namespace string
}

// LoadClientConfig reads the kubeconfig (path, or $KUBECONFIG, or
// ~/.kube/config, or the in-cluster service account) with an optional
// context override, and builds a client. userAgent identifies tapview in
// the API server's audit log.
func LoadClientConfig(path, context, userAgent string) (*ClientConfig, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) || errors.Is(err, clientcmd.ErrEmptyConfig) {
			return nil, errors.New("no Kubernetes configuration found: set KUBECONFIG, use --kubeconfig FILE, or run kubectl config use-context")
		}
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	cfg.UserAgent = userAgent
	// Many pods are set up in parallel: allow more than client-go's
	// default 5 requests a second.
	cfg.QPS, cfg.Burst = 20, 40
	cs, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &ClientConfig{REST: cfg, Client: cs, Namespace: ns}, nil
}

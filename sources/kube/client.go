package kube

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"
)

// Client is what tapview asks of the API server. It is not client-go's
// kubernetes.Interface on purpose: that clientset, and every typed client
// package, registers all of Kubernetes' API groups in one scheme at init,
// which links about 15 MB of types tapview never uses into the binary.
// NewClient serves the four groups tapview reads with client-go's generic
// typed clients; tests may adapt a clientset, whose typed clients satisfy
// the small interfaces below as they are.
type Client interface {
	Pods(namespace string) PodClient
	Deployments(namespace string) DeploymentClient
	Namespaces() NamespaceLister
	Nodes() NodeLister
	ServiceCIDRs() ServiceCIDRLister
	AccessReviews() AccessReviewer
	// CoreREST is the core/v1 REST client, for the attach and
	// port-forward subresource URLs.
	CoreREST() rest.Interface
}

// PodClient is the part of client-go's PodInterface tapview uses.
type PodClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error)
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Pod, error)
}

// DeploymentClient reads deployments.
type DeploymentClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.Deployment, error)
	List(ctx context.Context, opts metav1.ListOptions) (*appsv1.DeploymentList, error)
}

// NamespaceLister lists namespaces (for completion).
type NamespaceLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NamespaceList, error)
}

// NodeLister lists nodes (for the cluster's pod CIDRs).
type NodeLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NodeList, error)
}

// ServiceCIDRLister lists ServiceCIDRs (the cluster's service ranges).
type ServiceCIDRLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*networkingv1.ServiceCIDRList, error)
}

// AccessReviewer asks the API server what the caller may do.
type AccessReviewer interface {
	Create(ctx context.Context, r *authv1.SelfSubjectAccessReview, opts metav1.CreateOptions) (*authv1.SelfSubjectAccessReview, error)
}

// restClient is Client over the API server's REST interface.
type restClient struct {
	core, apps, auth, networking rest.Interface
	params                       runtime.ParameterCodec
}

// NewClient builds a Client for cfg, with a scheme holding only the API
// groups tapview uses (core, apps, authorization, networking v1).
func NewClient(cfg *rest.Config) (Client, error) {
	sch := runtime.NewScheme()
	// Status and the other unversioned meta types, as client-go's scheme.
	metav1.AddToGroupVersion(sch, schema.GroupVersion{Version: "v1"})
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, authv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(sch); err != nil {
			return nil, fmt.Errorf("building the Kubernetes client: %w", err)
		}
	}
	codecs := serializer.NewCodecFactory(sch)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	client := func(gv schema.GroupVersion, apiPath string) (rest.Interface, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion, c.APIPath = &gv, apiPath
		c.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(sch, codecs).WithoutConversion()
		if c.UserAgent == "" {
			c.UserAgent = rest.DefaultKubernetesUserAgent()
		}
		rc, err := rest.RESTClientForConfigAndClient(c, hc)
		if err != nil {
			return nil, fmt.Errorf("building the Kubernetes client for %s: %w", gv, err)
		}
		return rc, nil
	}
	r := &restClient{params: runtime.NewParameterCodec(sch)}
	if r.core, err = client(corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, err
	}
	if r.apps, err = client(appsv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if r.auth, err = client(authv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if r.networking, err = client(networkingv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *restClient) Pods(ns string) PodClient {
	return gentype.NewClientWithList[*corev1.Pod, *corev1.PodList]("pods", r.core, r.params, ns,
		func() *corev1.Pod { return &corev1.Pod{} }, func() *corev1.PodList { return &corev1.PodList{} },
		gentype.PrefersProtobuf[*corev1.Pod]())
}

func (r *restClient) Deployments(ns string) DeploymentClient {
	return gentype.NewClientWithList[*appsv1.Deployment, *appsv1.DeploymentList]("deployments", r.apps, r.params, ns,
		func() *appsv1.Deployment { return &appsv1.Deployment{} }, func() *appsv1.DeploymentList { return &appsv1.DeploymentList{} },
		gentype.PrefersProtobuf[*appsv1.Deployment]())
}

func (r *restClient) Namespaces() NamespaceLister {
	return gentype.NewClientWithList[*corev1.Namespace, *corev1.NamespaceList]("namespaces", r.core, r.params, "",
		func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} },
		gentype.PrefersProtobuf[*corev1.Namespace]())
}

func (r *restClient) Nodes() NodeLister {
	return gentype.NewClientWithList[*corev1.Node, *corev1.NodeList]("nodes", r.core, r.params, "",
		func() *corev1.Node { return &corev1.Node{} }, func() *corev1.NodeList { return &corev1.NodeList{} },
		gentype.PrefersProtobuf[*corev1.Node]())
}

func (r *restClient) ServiceCIDRs() ServiceCIDRLister {
	return gentype.NewClientWithList[*networkingv1.ServiceCIDR, *networkingv1.ServiceCIDRList]("servicecidrs", r.networking, r.params, "",
		func() *networkingv1.ServiceCIDR { return &networkingv1.ServiceCIDR{} },
		func() *networkingv1.ServiceCIDRList { return &networkingv1.ServiceCIDRList{} },
		gentype.PrefersProtobuf[*networkingv1.ServiceCIDR]())
}

func (r *restClient) AccessReviews() AccessReviewer {
	return gentype.NewClient[*authv1.SelfSubjectAccessReview]("selfsubjectaccessreviews", r.auth, r.params, "",
		func() *authv1.SelfSubjectAccessReview { return &authv1.SelfSubjectAccessReview{} },
		gentype.PrefersProtobuf[*authv1.SelfSubjectAccessReview]())
}

func (r *restClient) CoreREST() rest.Interface { return r.core }

package kube

import (
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// clientset adapts a client-go clientset (the fake one, with its
// reactors) to Client: its typed clients already have the methods.
type clientset struct{ cs kubernetes.Interface }

func (c clientset) Pods(ns string) PodClient               { return c.cs.CoreV1().Pods(ns) }
func (c clientset) Deployments(ns string) DeploymentClient { return c.cs.AppsV1().Deployments(ns) }
func (c clientset) Namespaces() NamespaceLister            { return c.cs.CoreV1().Namespaces() }
func (c clientset) Nodes() NodeLister                      { return c.cs.CoreV1().Nodes() }
func (c clientset) ServiceCIDRs() ServiceCIDRLister        { return c.cs.NetworkingV1().ServiceCIDRs() }
func (c clientset) AccessReviews() AccessReviewer {
	return c.cs.AuthorizationV1().SelfSubjectAccessReviews()
}
func (c clientset) CoreREST() rest.Interface { return c.cs.CoreV1().RESTClient() }

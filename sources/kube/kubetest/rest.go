package kubetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/watch"
)

func (s *Server) getPod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if s.deniedKey("get", "", "pods", "") {
		forbidden(w, r, "get", "pods", "", ns, name)
		return
	}
	s.mu.Lock()
	p, ok := s.pods[ns+"/"+name]
	if ok {
		p = p.DeepCopy()
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "pods", name)
		return
	}
	writeObject(w, r, http.StatusOK, p)
}

// listPods lists, or with watch=true watches, pods of one namespace (or
// all), filtered by labelSelector and fieldSelector.
func (s *Server) listPods(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	q := r.URL.Query()
	verb := "list"
	if q.Get("watch") == "true" || q.Get("watch") == "1" {
		verb = "watch"
	}
	if s.deniedKey(verb, "", "pods", "") {
		forbidden(w, r, verb, "pods", "", ns, "")
		return
	}
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		writeStatus(w, r, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error(), nil)
		return
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		writeStatus(w, r, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error(), nil)
		return
	}
	wt := &watcher{ns: ns, labels: ls, fields: fs}
	if verb == "watch" {
		s.watch(w, r, wt)
		return
	}
	s.mu.Lock()
	list := &corev1.PodList{}
	list.ResourceVersion = strconv.FormatInt(s.rv, 10)
	for _, p := range s.pods {
		if wt.matches(p) {
			list.Items = append(list.Items, *p.DeepCopy())
		}
	}
	s.mu.Unlock()
	writeObject(w, r, http.StatusOK, list)
}

// watch streams watch events in the negotiated format (see
// newWatchEncoder). Without a resourceVersion it
// starts with ADDED for every matching pod; with one it replays what
// happened after that version.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, wt *watcher) {
	rv, _ := strconv.ParseInt(r.URL.Query().Get("resourceVersion"), 10, 64)
	s.mu.Lock()
	var backlog []event
	if rv == 0 {
		for _, p := range s.pods {
			if wt.matches(p) {
				backlog = append(backlog, event{rv: s.rv, typ: watch.Added, pod: p.DeepCopy()})
			}
		}
	} else {
		for _, ev := range s.history {
			if ev.rv > rv && wt.matches(ev.pod) {
				backlog = append(backlog, ev)
			}
		}
	}
	wt.ch = make(chan event, len(backlog)+256)
	for _, ev := range backlog {
		wt.ch <- ev
	}
	s.watchers[wt] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.watchers[wt] {
			delete(s.watchers, wt)
		}
		s.mu.Unlock()
	}()
	enc := newWatchEncoder(w, r)
	w.Header().Set("Content-Type", enc.mediaType)
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	timeout := time.After(time.Minute) // servers end watches now and then
	for {
		select {
		case <-r.Context().Done():
			return
		case <-timeout:
			return
		case ev, ok := <-wt.ch:
			if !ok {
				return
			}
			if err := enc.encode(string(ev.typ), ev.pod); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}

// patchEphemeral applies a strategic merge patch to the pod's
// ephemeralContainers, records it, and starts the new containers.
func (s *Server) patchEphemeral(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	s.mu.Lock()
	disabled := s.EphemeralDisabled
	s.mu.Unlock()
	if disabled {
		// What a server without the subresource answers: no details.
		writeStatus(w, r, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource", &metav1.StatusDetails{})
		return
	}
	if s.deniedKey("patch", "", "pods", "ephemeralcontainers") {
		forbidden(w, r, "patch", "pods", "ephemeralcontainers", ns, name)
		return
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/strategic-merge-patch+json") {
		writeStatus(w, r, http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, "the server only handles strategic merge patches here, not "+ct, nil)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[ns+"/"+name]
	if !ok {
		notFound(w, r, "pods", name)
		return
	}
	orig, _ := json.Marshal(p)
	merged, err := strategicpatch.StrategicMergePatch(orig, body, corev1.Pod{})
	if err != nil {
		writeStatus(w, r, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "invalid patch: "+err.Error(), nil)
		return
	}
	np := &corev1.Pod{}
	if err := json.Unmarshal(merged, np); err != nil {
		writeStatus(w, r, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, err.Error(), nil)
		return
	}
	old := map[string]bool{}
	for _, c := range p.Spec.EphemeralContainers {
		old[c.Name] = true
	}
	rec := Patch{Namespace: ns, Pod: name, ContentType: ct, Body: body}
	for _, c := range np.Spec.EphemeralContainers {
		if old[c.Name] {
			continue
		}
		if c.Name == "" || c.Image == "" {
			writeStatus(w, r, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.ephemeralContainers: name and image are required", nil)
			return
		}
		rec.Added = append(rec.Added, c)
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
		if s.ImagePullError != "" {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: s.ImagePullError}
		}
		np.Status.EphemeralContainerStatuses = append(np.Status.EphemeralContainerStatuses, st)
	}
	s.patches = append(s.patches, rec)
	s.pods[ns+"/"+name] = np
	s.emitLocked(watch.Modified, np)
	writeObject(w, r, http.StatusOK, np.DeepCopy())
	if s.ImagePullError == "" {
		delay := s.StartDelay
		if delay <= 0 {
			delay = 20 * time.Millisecond
		}
		for _, c := range rec.Added {
			time.AfterFunc(delay, func() { s.startContainer(ns, name, c.Name) })
		}
	}
}

// startContainer marks a capture container running.
func (s *Server) startContainer(ns, name, container string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[ns+"/"+name]
	if !ok {
		return
	}
	p = p.DeepCopy()
	for i := range p.Status.EphemeralContainerStatuses {
		st := &p.Status.EphemeralContainerStatuses[i]
		if st.Name == container {
			st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
		}
	}
	s.pods[ns+"/"+name] = p
	s.emitLocked(watch.Modified, p)
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if s.deniedKey("get", "apps", "deployments", "") {
		forbidden(w, r, "get", "deployments", "", ns, name)
		return
	}
	s.mu.Lock()
	d, ok := s.deployments[ns+"/"+name]
	if ok {
		d = d.DeepCopy()
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "deployments.apps", name)
		return
	}
	writeObject(w, r, http.StatusOK, d)
}

// review answers a SelfSubjectAccessReview from the denied set.
func (s *Server) review(w http.ResponseWriter, r *http.Request) {
	obj, err := decodeBody(r)
	if err != nil {
		writeStatus(w, r, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error(), nil)
		return
	}
	rv, ok := obj.(*authv1.SelfSubjectAccessReview)
	if !ok || rv.Spec.ResourceAttributes == nil {
		writeStatus(w, r, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("not a resource SelfSubjectAccessReview: %T", obj), nil)
		return
	}
	a := rv.Spec.ResourceAttributes
	s.mu.Lock()
	s.reviews = append(s.reviews, strings.Join([]string{a.Namespace, a.Verb, a.Group, a.Resource, a.Subresource}, " "))
	denied := s.denied[permKey(a.Verb, a.Group, a.Resource, a.Subresource)]
	s.mu.Unlock()
	rv.Status = authv1.SubjectAccessReviewStatus{Allowed: !denied}
	if denied {
		rv.Status.Reason = "no RBAC policy matched"
	}
	writeObject(w, r, http.StatusCreated, rv)
}

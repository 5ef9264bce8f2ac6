package kubetest

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Content negotiation as the API server does it. Typed client-go
// clients send built-in objects as protobuf
// (application/vnd.kubernetes.protobuf, "k8s\x00" envelope) and accept
// protobuf or JSON, while kubectl-style JSON clients send and accept
// JSON; a fake server that only spoke one would let tests pass with a
// client configuration that never meets a real cluster. So request bodies
// are decoded by their Content-Type, and responses (objects, Status
// errors, watch streams) are encoded in the first media type of the
// Accept header the server supports, JSON when there is none.

// servedVersions are the group versions whose objects the server writes.
var servedVersions = schema.GroupVersions{corev1.SchemeGroupVersion, appsv1.SchemeGroupVersion, authv1.SchemeGroupVersion}

// negotiate picks the serializer for a response to r.
func negotiate(r *http.Request) runtime.SerializerInfo {
	supported := scheme.Codecs.SupportedMediaTypes()
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == "*/*" || mt == "application/*" {
			break
		}
		for _, info := range supported {
			if info.MediaType == mt {
				return info
			}
		}
	}
	info, _ := runtime.SerializerInfoForMediaType(supported, runtime.ContentTypeJSON)
	return info
}

// decodeBody decodes a request body by its Content-Type into a typed
// object (the body carries its apiVersion and kind, in JSON fields or in
// the protobuf envelope).
func decodeBody(r *http.Request) (runtime.Object, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("bad Content-Type %q: %w", r.Header.Get("Content-Type"), err)
	}
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mt)
	if !ok {
		return nil, fmt.Errorf("unsupported Content-Type %q", mt)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	dec := scheme.Codecs.DecoderToVersion(info.Serializer, servedVersions)
	obj, _, err := dec.Decode(body, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding %s body: %w", mt, err)
	}
	return obj, nil
}

// writeObject writes obj with status code in the negotiated media type;
// the versioning encoder sets apiVersion and kind as the server does.
func writeObject(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	info := negotiate(r)
	enc := scheme.Codecs.EncoderForVersion(info.Serializer, servedVersions)
	body, err := runtime.Encode(enc, obj)
	if err != nil {
		http.Error(w, "kubetest: encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", info.MediaType)
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// watchEncoder writes watch events as the API server does: each event
// is a metav1.WatchEvent whose object is the pod encoded in the
// negotiated media type, framed by that type's stream framer (JSON
// objects one after another, or 4-byte length-prefixed raw protobuf).
type watchEncoder struct {
	mediaType string
	embedded  runtime.Encoder
	stream    runtime.Encoder
	frames    io.Writer
}

// newWatchEncoder negotiates the watch format for r; the caller writes
// the header with mediaType and then events to w.
func newWatchEncoder(w io.Writer, r *http.Request) *watchEncoder {
	info := negotiate(r)
	mediaType := info.MediaType
	if mediaType != runtime.ContentTypeJSON {
		mediaType += ";stream=watch"
	}
	return &watchEncoder{
		mediaType: mediaType,
		embedded:  scheme.Codecs.EncoderForVersion(info.Serializer, servedVersions),
		stream:    info.StreamSerializer.Serializer,
		frames:    info.StreamSerializer.NewFrameWriter(w),
	}
}

// encode writes one event. The versioning encoder sets the object's kind
// while it encodes, and events are shared between watchers: it gets a
// copy.
func (e *watchEncoder) encode(typ string, obj runtime.Object) error {
	raw, err := runtime.Encode(e.embedded, obj.DeepCopyObject())
	if err != nil {
		return err
	}
	return e.stream.Encode(&metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: raw}}, e.frames)
}

package s3store

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestExpiryRule checks the printed rule is the shape `aws s3api
// put-bucket-lifecycle-configuration` takes, for each kind of filter.
func TestExpiryRule(t *testing.T) {
	r, err := ExpiryRule("team-a/", 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(LifecycleConfig{Rules: []LifecycleRule{r}}.JSON()), &back); err != nil {
		t.Fatal(err)
	}
	rule := back["Rules"].([]any)[0].(map[string]any)
	if rule["Filter"].(map[string]any)["Prefix"] != "team-a/" || rule["Status"] != "Enabled" ||
		rule["Expiration"].(map[string]any)["Days"] != 7.0 ||
		rule["AbortIncompleteMultipartUpload"].(map[string]any)["DaysAfterInitiation"] != 1.0 {
		t.Errorf("rule JSON = %v", rule)
	}
	tagged, _ := ExpiryRule("team-a/", 30, map[string]string{TagUser: "alice", TagMasked: "false"})
	js := LifecycleConfig{Rules: []LifecycleRule{tagged}}.JSON()
	if !strings.Contains(js, `"And"`) || !strings.Contains(js, `"alice"`) || strings.Contains(js, "AbortIncomplete") {
		t.Errorf("tagged rule: want And with tags and no multipart abort (S3 refuses it with tags):\n%s", js)
	}
	if one, _ := ExpiryRule("", 1, map[string]string{TagUser: "bob"}); one.Filter.Tag == nil || one.Filter.And != nil {
		t.Errorf("a single tag without prefix should be a Tag filter: %+v", one.Filter)
	}
	if _, err := ExpiryRule("x/", 0, nil); err == nil || !strings.Contains(err.Error(), "1 or more") {
		t.Errorf("--days 0: %v", err)
	}
	if a, b := must(ExpiryRule("x/", 1, nil)), must(ExpiryRule("x/", 9, nil)); a.ID != b.ID {
		t.Errorf("same selection, different IDs %q %q: re-applying would add a rule", a.ID, b.ID)
	}
}

func must(r LifecycleRule, err error) LifecycleRule {
	if err != nil {
		panic(err)
	}
	return r
}

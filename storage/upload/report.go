package upload

import (
	"fmt"
	"strings"
)

// Summary says in a few sentences what reached the store and what did
// not, naming every local file left behind and what to do about it.
// Problem reports whether anything was lost or left.
func (r Report) Summary(dest string) (msg string, problem bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "uploaded %d segment(s), %d bytes, to %s", r.Uploaded, r.UploadedBytes, dest)
	if r.Dropped > 0 || r.DroppedFiles > 0 {
		problem = true
		fmt.Fprintf(&b, "; %d packet(s)/trace(s) and %d finished segment(s) were dropped because the spool reached --spool-max while the store was not keeping up (raise --spool-max or check the store)", r.Dropped, r.DroppedFiles)
	}
	if r.WriteErr != nil {
		problem = true
		fmt.Fprintf(&b, "; writing segments failed: %v (check the disk under %s)", r.WriteErr, r.Dir)
	}
	if len(r.Left) > 0 {
		problem = true
		fmt.Fprintf(&b, "; %d file(s) could NOT be uploaded and are kept on disk:", len(r.Left))
		for _, f := range r.Left {
			fmt.Fprintf(&b, "\n  %s (%v)", f.Path, f.Cause)
		}
		if r.Pushable {
			fmt.Fprintf(&b, "\nupload them when the store is reachable with 'tapview storage push %s' (under the keys and tags this run would have used, masked as it would have masked), or start the next recording with the same --spool-dir, which uploads them first; meanwhile they open with 'tapview open FILE...'", r.Dir)
		} else {
			fmt.Fprintf(&b, "\nthey are complete captures: open them with 'tapview open FILE...', or copy them to the store when it is reachable (e.g. 'aws s3 cp FILE %s/'; a copy by hand lacks the key layout and tags that 'tapview open s3://' lists by)", dest)
		}
		fmt.Fprintf(&b, "; files under %s/ are NOT masked", NotMaskedDir)
	}
	return b.String(), problem
}

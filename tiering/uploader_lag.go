package tiering

import "time"

// OldestPending returns when the first entry of the oldest sealed segment
// not yet uploaded was written, and false when every sealed segment is
// uploaded. The age of that time is the upload lag: how far the object
// tier (and acks=all, and consumers) trails the WAL. The active segment
// is not counted; it seals within the WAL's segment age.
func (u *Uploader) OldestPending() (time.Time, bool) {
	var oldest time.Time
	for _, s := range u.log.SealedSegments() {
		if u.isUploaded(s.ID) {
			continue
		}
		if oldest.IsZero() || s.FirstEntryTime.Before(oldest) {
			oldest = s.FirstEntryTime
		}
	}
	return oldest, !oldest.IsZero()
}

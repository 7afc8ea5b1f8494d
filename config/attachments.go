package config

// Attachments limits the files a data subject sends with a request (on
// the public form) or later (on the status page): ID proof when staff
// ask for it, evidence for a correction. The allowed types are fixed in
// the code (PDF, PNG, JPEG, recognised by their content), so an operator
// cannot open the door to files a browser or a desktop would run.
type Attachments struct {
	// MaxFileBytes caps one file.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxFilesPerUpload caps the files of one form post.
	MaxFilesPerUpload int `yaml:"max_files_per_upload"`
	// MaxFilesPerRequest caps the files a request keeps in all.
	MaxFilesPerRequest int `yaml:"max_files_per_request"`
}

// defaultAttachments keeps the largest upload (3 × 8 MiB plus the form)
// under the 25 MiB a reverse proxy is told to accept in the README.
func defaultAttachments() Attachments {
	return Attachments{MaxFileBytes: 8 << 20, MaxFilesPerUpload: 3, MaxFilesPerRequest: 10}
}

// uploadSlack covers one file part's multipart framing (boundary and
// part headers, which carry the client's file name).
const uploadSlack = 8 << 10

// BodyLimit is the body allowance of a route that takes attachments: the
// largest upload the limits allow, plus the form's text fields (capped at
// textBytes, http.max_body_bytes) and the multipart framing. Every other
// route keeps http.max_body_bytes.
func (a Attachments) BodyLimit(textBytes int64) int64 {
	return int64(a.MaxFilesPerUpload)*(a.MaxFileBytes+uploadSlack) + textBytes + uploadSlack
}

func (c *Config) checkAttachments(v *checker) {
	a := c.Attachments
	if a.MaxFileBytes < 1024 || a.MaxFileBytes > 100<<20 {
		v.bad("attachments.max_file_bytes", "must be from 1024 to 104857600, not %d", a.MaxFileBytes)
	}
	if a.MaxFilesPerUpload < 1 || a.MaxFilesPerUpload > 20 {
		v.bad("attachments.max_files_per_upload", "must be from 1 to 20, not %d", a.MaxFilesPerUpload)
	}
	if a.MaxFilesPerRequest < a.MaxFilesPerUpload || a.MaxFilesPerRequest > 200 {
		v.bad("attachments.max_files_per_request", "must be at least max_files_per_upload (%d) and at most 200, not %d",
			a.MaxFilesPerUpload, a.MaxFilesPerRequest)
	}
	// One post may hold max_files_per_upload files of max_file_bytes: a
	// body that size is what the upload routes accept, so keep it sane.
	if a.MaxFileBytes > 0 && a.MaxFilesPerUpload > 0 && a.BodyLimit(c.HTTP.MaxBodyBytes) > 512<<20 {
		v.bad("attachments", "max_files_per_upload × max_file_bytes must stay under 512 MiB")
	}
}

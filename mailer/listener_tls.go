package mailer

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// ListenerTLS is the inbound listener's TLS configuration for the PEM
// certificate (chain) and private key in certFile and keyFile. It fails
// when they do not load as a pair.
//
// The files are read again on the first handshake after either changes:
// certificates for an MX are renewed every few weeks (ACME clients write
// new files in place), and a listener that kept serving the old one
// would need a restart the operator may not think of. A renewal that
// does not load (the key not yet written) keeps the old certificate and
// is logged once.
func ListenerTLS(certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	kp := &keyPair{certFile: certFile, keyFile: keyFile, log: log}
	if err := kp.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		// TLS 1.2 at least: older versions are broken, and a sender
		// that cannot do better can still deliver in clear unless
		// mail.inbound.require_tls says otherwise.
		MinVersion:     tls.VersionTLS12,
		GetCertificate: kp.get,
	}, nil
}

type keyPair struct {
	certFile, keyFile string
	log               *slog.Logger

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time // of the files last tried
}

// load reads both files and keeps the pair when it loads.
func (k *keyPair) load() error {
	cm, km := modTime(k.certFile), modTime(k.keyFile)
	cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	k.certMod, k.keyMod = cm, km
	if err != nil {
		return fmt.Errorf("mailer: inbound tls: %s and %s: %w", k.certFile, k.keyFile, err)
	}
	k.cert = &cert
	return nil
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !modTime(k.certFile).Equal(k.certMod) || !modTime(k.keyFile).Equal(k.keyMod) {
		if err := k.load(); err != nil {
			k.log.Warn("inbound tls: the changed certificate does not load; serving the previous one", "err", err)
		} else {
			k.log.Info("inbound tls: certificate reloaded", "file", k.certFile)
		}
	}
	return k.cert, nil
}

// modTime is the file's modification time; zero when it cannot be read.
func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

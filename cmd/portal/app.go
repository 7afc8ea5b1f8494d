package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/i18n"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/observe"
	"rightsportal/packages"
	"rightsportal/service"
	"rightsportal/templates"
)

// app is everything the commands share, built once per run.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	store *models.Store
	key   []byte
	svc   *service.Service
	// logOut is where logs go (standard error).
	logOut io.Writer
	conns  *connectors.Registry
}

// close releases the database and the connections to other systems.
func (a *app) close() {
	a.conns.Close()
	a.store.Close()
}

// openApp reads the configuration, opens (and migrates) the database and
// builds the service.
func openApp(ctx context.Context, path string, getenv env, stderr io.Writer) (*app, error) {
	return open(ctx, path, getenv, stderr, false)
}

// openExisting is openApp for commands that inspect data: a database that
// does not exist is an error, not a new empty one.
func openExisting(ctx context.Context, path string, getenv env, stderr io.Writer) (*app, error) {
	return open(ctx, path, getenv, stderr, true)
}

func open(ctx context.Context, path string, getenv env, stderr io.Writer, mustExist bool) (*app, error) {
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return nil, err
	}
	log := slog.New(observe.LogHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.Level()})))
	key, err := loadKey(cfg.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	store, err := models.Open(ctx, models.Options{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN,
		Log: jobLog(stderr), MailMaxAttempts: cfg.Mail.MaxAttempts,
		WebhookMaxAttempts: cfg.Webhooks.MaxAttempts, MustExist: mustExist})
	if err != nil {
		return nil, err
	}
	cat, err := i18n.Load(templates.FS, cfg.Languages, cfg.DefaultLanguage)
	if err != nil {
		return nil, err
	}
	composer, err := mailer.NewComposer(templates.FS, cfg.Mail.From, cfg.Mail.ReplyLocal, cfg.Mail.ReplyDomain, key, cat)
	if err != nil {
		store.Close()
		return nil, err
	}
	reg := connectors.NewRegistry(cfg.Systems, &http.Client{Timeout: 60 * time.Second}, time.Now)
	svc := service.New(store, composer, cfg, time.Now, log).WithSecrets(key).WithFulfilment(service.Fulfilment{
		Connectors: reg, Files: packages.Store{Dir: cfg.Fulfilment.PackagesDir, Key: service.DeriveKey(key, "packages")}})
	return &app{cfg: cfg, log: log, store: store, key: key, svc: svc, logOut: stderr, conns: reg}, nil
}

// loadKey reads the sealing key, or creates it (owner-only) on first
// start. The file holds 64 hex digits.
func loadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var k [32]byte
		rand.Read(k[:])
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return loadKey(path) // another process created it first
		}
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		_, err = f.WriteString(hex.EncodeToString(k[:]) + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		return k[:], nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("secret key %s: want 64 hex digits (32 bytes)", path)
	}
	return k, nil
}

// jobLog is the job engine's logger: warnings only, because River logs
// routine bookkeeping (migrations, queue counts) at info level.
func jobLog(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "jobs")
}

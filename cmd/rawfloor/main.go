// Command rawfloor is the benchmark's floor: a bare gin handler that
// decodes the same JSON body as POST /api/v1/requests and, in one
// transaction, inserts the same request row with gorm and one job row
// with the job engine (River's InsertTx on the same *sql.Tx, as the
// portal queues its mail), into SQLite with the same durability (WAL,
// synchronous=FULL, one writer connection), and nothing else: no
// validation, tokens, audit event, mail, group commit or workers. The
// portal's intake is reported as a ratio to this.
//
//	go run ./cmd/rawfloor -addr 127.0.0.1:8090 -db /tmp/floor.db
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"rightsportal/models"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	path := flag.String("db", "floor.db", "SQLite file")
	flag.Parse()
	os.Remove(*path)
	dsn := "file:" + *path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=FULL&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	if err := db.AutoMigrate(&models.Request{}); err != nil {
		log.Fatal(err)
	}
	jobs := jobClient(sqlDB)
	// The floor must sync as the portal does: say what SQLite runs with.
	var journal string
	var syncMode int
	db.Raw("PRAGMA journal_mode").Scan(&journal)
	db.Raw("PRAGMA synchronous").Scan(&syncMode)
	if journal != "wal" || syncMode != 2 {
		log.Fatalf("rawfloor: journal_mode=%s synchronous=%d, want wal and 2 (FULL)", journal, syncMode)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	var n atomic.Int64
	r.POST("/api/v1/requests", func(c *gin.Context) {
		var b struct {
			Type, Email, FullName, Jurisdiction string
		}
		if err := c.ShouldBindJSON(&b); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		id, _ := uuid.NewV7()
		now := time.Now().UTC()
		row := models.Request{ID: id.String(), Reference: fmt.Sprintf("F%015d", n.Add(1)), Type: b.Type, Status: "unverified",
			Jurisdiction: "gdpr", Email: b.Email, FullName: b.FullName, Details: "{}", Approvals: "[]",
			CreatedAt: now, UpdatedAt: now, VerifyBy: now, DueAt: now, Version: 1}
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
			_, err := jobs.InsertTx(c, tx.Statement.ConnPool.(*sql.Tx), floorJob{RequestID: row.ID}, nil)
			return err
		})
		if err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusAccepted, gin.H{"id": row.ID, "reference": row.Reference, "status": row.Status})
	})
	srv := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// floorJob stands for the portal's mail job: one row in River's table.
type floorJob struct {
	RequestID string `json:"request_id"`
}

func (floorJob) Kind() string { return "floor_job" }

// jobClient migrates River's tables and returns an insert-only client.
func jobClient(db *sql.DB) *river.Client[*sql.Tx] {
	drv := riversqlite.New(db)
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := m.Migrate(context.Background(), rivermigrate.DirectionUp, nil); err != nil {
		log.Fatal(err)
	}
	c, err := river.NewClient(drv, &river.Config{})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// Command rawfloor is the benchmark's floor: a bare gin handler that
// decodes the same JSON body as POST /api/v1/requests and inserts the
// same request row into SQLite with gorm, with the same connection
// settings (WAL, synchronous=FULL, one writer), and nothing else: no
// validation, tokens, audit event, mail or job. The portal's intake is
// reported as a ratio to this.
//
//	go run ./cmd/rawfloor -addr 127.0.0.1:8090 -db /tmp/floor.db
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
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
		if err := db.Create(&row).Error; err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusAccepted, gin.H{"id": row.ID, "reference": row.Reference, "status": row.Status})
	})
	srv := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

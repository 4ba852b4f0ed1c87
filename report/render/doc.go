// Package render turns results (package report: the schema and the
// analysis) into what people read: Markdown, the self-contained HTML page
// with its gonum/plot figures, JUnit XML, the trend pages, and a report
// folder (WriteDir). Like report it is pure: no client-go, Docker or vegeta.
// A new Markdown section is one function and its place in mdSections.
package render

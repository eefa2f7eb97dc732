package scripts_test

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README stays a page a newcomer reads in minutes; the rest is in docs/.
const maxREADMEBytes = 12 * 1024

// repoURL is where links to the repository's own files point from docs/: mkdocs builds only
// docs/, so a relative link to ../examples/… would be broken on the site.
const repoURL = "https://github.com/betterauthz/betterauthz/"

func TestREADMEIsShort(t *testing.T) {
	if n := len(readPage(t, "README.md")); n > maxREADMEBytes {
		t.Errorf("README.md is %d bytes, more than %d: move the detail to a page of docs/", n, maxREADMEBytes)
	}
}

var (
	mdLink  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} +(.+)$`)
)

// pageLinks returns a page's link targets, outside code blocks.
func pageLinks(t *testing.T, page string) []string {
	t.Helper()
	var links []string
	inCode := false
	for _, line := range strings.Split(readPage(t, page), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		line = regexp.MustCompile("`[^`]*`").ReplaceAllString(line, "")
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			links = append(links, m[1])
		}
	}
	return links
}

// slug is a heading's anchor as both mkdocs (Python-Markdown's toc) and GitHub make it, for the
// headings they agree on; anchors returns nothing for a heading where they differ.
func slug(h string) (string, bool) {
	h = strings.ToLower(regexp.MustCompile("[`*_]").ReplaceAllString(h, ""))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		case strings.ContainsRune(".,:;!?()'\"/&+@", r):
		default:
			return "", false // a character the two slug rules treat differently
		}
	}
	s := b.String()
	return s, !strings.Contains(s, "--") && !strings.HasPrefix(s, "-") && !strings.HasSuffix(s, "-")
}

func anchors(t *testing.T, page string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	text := readPage(t, page)
	for _, m := range heading.FindAllStringSubmatch(stripCode(text), -1) {
		if s, ok := slug(strings.TrimSpace(m[1])); ok {
			out[s] = true
		}
	}
	return out
}

func stripCode(text string) string {
	var kept []string
	inCode := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

// TestDocLinks: every link between pages and to the repository's files resolves, anchors
// included; pages of docs/ link to files outside docs/ by their GitHub address.
func TestDocLinks(t *testing.T) {
	for _, page := range docPages(t) {
		for _, link := range pageLinks(t, page) {
			if err := checkLink(t, page, link); err != "" {
				t.Errorf("%s: link %s: %s", page, link, err)
			}
		}
	}
}

func checkLink(t *testing.T, page, link string) string {
	target, anchor, _ := strings.Cut(link, "#")
	switch {
	case strings.HasPrefix(target, repoURL):
		rest := strings.TrimPrefix(target, repoURL)
		file, ok := strings.CutPrefix(rest, "blob/main/")
		if !ok {
			file, ok = strings.CutPrefix(rest, "tree/main/")
		}
		if !ok {
			return "" // releases, issues: not files
		}
		if _, err := os.Stat(filepath.Join("..", file)); err != nil {
			return "no such file in the repository"
		}
		return ""
	case strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:"):
		return ""
	case target == "":
		target = page
	default:
		target = path.Join(path.Dir(page), target)
	}
	if strings.HasPrefix(page, "docs/") && !strings.HasPrefix(target, "docs/") {
		return "outside docs/: the site would not have it; link to " + repoURL + "blob/main/" + target
	}
	if _, err := os.Stat(filepath.Join("..", target)); err != nil {
		return "no such file"
	}
	if anchor != "" && strings.HasSuffix(target, ".md") && !anchors(t, target)[anchor] {
		return "no heading #" + anchor + " in " + target
	}
	return ""
}

// TestEveryPageReachable: every page of docs/ can be found from the README by following links,
// and is in the site's navigation.
func TestEveryPageReachable(t *testing.T) {
	seen := map[string]bool{"README.md": true}
	queue := []string{"README.md"}
	for len(queue) > 0 {
		page := queue[0]
		queue = queue[1:]
		for _, link := range pageLinks(t, page) {
			target, _, _ := strings.Cut(link, "#")
			if target == "" || strings.Contains(target, "://") || !strings.HasSuffix(target, ".md") {
				continue
			}
			target = path.Join(path.Dir(page), target)
			if !seen[target] {
				seen[target] = true
				queue = append(queue, target)
			}
		}
	}
	mkdocs := readPage(t, "mkdocs.yml")
	nav := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*-\s*(?:[^:\n]+:\s*)?(\S+\.md)\s*$`).FindAllStringSubmatch(mkdocs, -1) {
		nav["docs/"+m[1]] = true
	}
	for _, page := range docPages(t) {
		if !strings.HasPrefix(page, "docs/") {
			continue
		}
		if !seen[page] {
			t.Errorf("%s cannot be reached from README.md by links", page)
		}
		if !nav[page] {
			t.Errorf("%s is not in mkdocs.yml's nav", page)
		}
	}
	for p := range nav {
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("mkdocs.yml's nav names %s, which does not exist", p)
		}
	}
}

// TestPagesSayWhen: each page of docs/ opens, under its title, with the one line that tells a
// reader whether it is the page they need.
func TestPagesSayWhen(t *testing.T) {
	exempt := []string{"docs/index.md", "docs/benchmarks.md"} // the site's home; make bench's report
	for _, page := range docPages(t) {
		if !strings.HasPrefix(page, "docs/") || slices.Contains(exempt, page) {
			continue
		}
		text := readPage(t, page)
		if strings.HasPrefix(text, "<!--") {
			_, text, _ = strings.Cut(text, "-->\n\n")
		}
		title, rest, _ := strings.Cut(text, "\n\n")
		if !strings.HasPrefix(title, "# ") || !strings.HasPrefix(rest, "When you need this: ") {
			t.Errorf("%s: want a `# Title`, then a paragraph starting \"When you need this: \"", page)
		}
	}
}

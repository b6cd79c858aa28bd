package audit

import (
	"context"
	"fmt"
)

// The All* functions read every page of a query (the CLI prints whole answers). pageSize is
// the page size asked for; 0 lets the source choose (Local then answers in one page).

// maxPages bounds a paging loop against a server that never stops returning tokens.
const maxPages = 1 << 20

func allPages(fetch func(cont string) (string, error)) error {
	cont := ""
	for range maxPages {
		next, err := fetch(cont)
		if err != nil || next == "" {
			return err
		}
		if next == cont {
			return fmt.Errorf("the audit API returned the same continue token twice")
		}
		cont = next
	}
	return fmt.Errorf("the audit API returned more than %d pages", maxPages)
}

// AllReferrers reads every page of an ImageQuery.
func AllReferrers(ctx context.Context, s Source, q ImageQuery, pageSize int) (*ImageReferrers, error) {
	var out *ImageReferrers
	err := allPages(func(cont string) (string, error) {
		q.Page = Page{Limit: pageSize, Continue: cont}
		res, err := s.Referrers(ctx, q)
		if err != nil {
			return "", err
		}
		if out == nil {
			out = res
		} else {
			out.Referrers = append(out.Referrers, res.Referrers...)
		}
		return res.Continue, nil
	})
	if out != nil {
		out.Continue = ""
	}
	return out, err
}

// AllObjectImages reads every page of an ObjectQuery.
func AllObjectImages(ctx context.Context, s Source, q ObjectQuery, pageSize int) (*ObjectImages, error) {
	var out *ObjectImages
	err := allPages(func(cont string) (string, error) {
		q.Page = Page{Limit: pageSize, Continue: cont}
		res, err := s.ObjectImages(ctx, q)
		if err != nil {
			return "", err
		}
		if out == nil {
			out = res
		} else {
			out.Images = append(out.Images, res.Images...)
		}
		return res.Continue, nil
	})
	if out != nil {
		out.Continue = ""
	}
	return out, err
}

// AllImages reads every page of an ImagesQuery.
func AllImages(ctx context.Context, s Source, q ImagesQuery, pageSize int) (*ImageList, error) {
	out := &ImageList{Images: []ImageUsage{}}
	err := allPages(func(cont string) (string, error) {
		q.Page = Page{Limit: pageSize, Continue: cont}
		res, err := s.Images(ctx, q)
		if err != nil {
			return "", err
		}
		out.Images = append(out.Images, res.Images...)
		return res.Continue, nil
	})
	return out, err
}

// AllHistory reads every page of a HistoryQuery.
func AllHistory(ctx context.Context, s Source, q HistoryQuery, pageSize int) (*History, error) {
	var out *History
	err := allPages(func(cont string) (string, error) {
		q.Page = Page{Limit: pageSize, Continue: cont}
		res, err := s.History(ctx, q)
		if err != nil {
			return "", err
		}
		if out == nil {
			out = res
		} else {
			out.Records = append(out.Records, res.Records...)
		}
		return res.Continue, nil
	})
	if out != nil {
		out.Continue = ""
	}
	return out, err
}

package hdf5_test

import (
	"fmt"

	"github.com/stn3d/stn3d/bfm/hdf5"
)

func ExampleOpen() {
	f, err := hdf5.Open("../testdata/h5_bfm2017_chunked.h5")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	members, _ := f.List("/shape/model")
	fmt.Println(members)
	ds, err := f.Dataset("/shape/model/pcaVariance")
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := ds.Float64s()
	fmt.Println(ds.Shape(), v)
	_, err = f.Dataset("/shape/model/pcaVarience")
	fmt.Println(err)
	// Output:
	// [mean noiseVariance pcaBasis pcaVariance]
	// [4] [400 100 25 4]
	// hdf5: ../testdata/h5_bfm2017_chunked.h5: no object "/shape/model/pcaVarience": group "/shape/model" has members [mean noiseVariance pcaBasis pcaVariance]
}
